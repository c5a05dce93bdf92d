// Queries built and compiled once, for statements run on every request.
// Kysely builds an operation tree and compiles it to SQL on each execute():
// ~5 µs of CPU, plus the garbage, on the token lookup of every API call. A
// query compiled once runs again with new values bound to its parameters.
import type { Compilable, CompiledQuery } from 'kysely'

/**
 * Compiles `query` now; the returned function gives the same SQL with
 * `values` as its parameters, in the order they appear in the SQL (build the
 * query with placeholder values in those places). A query whose parameter
 * count differs from `values` throws rather than binding the wrong ones.
 */
export function compiledOnce<R>(query: Compilable<R>): (...values: unknown[]) => CompiledQuery<R> {
  const compiled = query.compile()
  return (...values) => {
    if (values.length !== compiled.parameters.length) {
      throw new Error(`compiled query takes ${compiled.parameters.length} parameters, given ${values.length}: ${compiled.sql}`)
    }
    return { ...compiled, parameters: values }
  }
}
