// Which better-sqlite3 to load on a given Node version (the edge agent and the
// fleet server each load it; this is the one rule they share).
// - 12.x, built from source here, runs on Node 20 and 22. On Node 24 it aborts
//   the process (`Assertion failed: (env) != nullptr` in
//   RemoveEnvironmentCleanupHook) when V8 collects a statement: Node 24 changed
//   node::ObjectWrap, which 12.x subclasses, and upstream closed the report
//   without a fix for 12.x (WiseLibs/better-sqlite3#1515).
// - 13.x is Node-API with prebuilt binaries and runs on Node 24, but needs
//   Node >= 22 (its binary crashes on Node 20). It is installed under the alias
//   better-sqlite3-napi; the API we use is the same, so 12.x's types serve both.

export type SqliteModule = 'better-sqlite3' | 'better-sqlite3-napi'

/** The Node major from which 13.x (Node-API) is loaded instead of 12.x. */
export const SQLITE_NAPI_FROM_NODE_MAJOR = 24

export function sqliteModuleFor(nodeVersion: string): SqliteModule {
  return Number(nodeVersion.split('.')[0]) >= SQLITE_NAPI_FROM_NODE_MAJOR ? 'better-sqlite3-napi' : 'better-sqlite3'
}
