// Another part's bench module, run when present: parts land separately, and a
// missing or failing one is recorded as such instead of ending the bench.
import { existsSync } from 'node:fs'
import { join } from 'node:path'

export async function optionalBench(file: string, name: string, ...args: unknown[]): Promise<unknown> {
  if (!existsSync(join(import.meta.dirname, `${file}.ts`))) return { status: 'not present', module: `bench/${file}.ts` }
  try {
    const mod = (await import(`./${file}.js`)) as Record<string, unknown>
    const fn = mod[name]
    if (typeof fn !== 'function') return { status: 'not present', module: `bench/${file}.ts`, reason: `no export ${name}()` }
    return await (fn as (...a: unknown[]) => Promise<unknown>)(...args)
  } catch (err) {
    return { status: 'failed', module: `bench/${file}.ts`, error: (err as Error).message }
  }
}
