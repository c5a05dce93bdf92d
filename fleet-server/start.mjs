// `npm start`: the fleet server bundled into one ES module by esbuild
// (fleet-server/bundle.mjs, ~0.5 s), then run by plain node. Through the tsx
// loader (as tests and `npm run cluster` run it) the same server idled
// 25-65 MiB larger after provisioning 19,001 cabinets (issue 13, session 21);
// tsx alone adds ~35 MiB to an empty script. Packages stay external: they
// load from node_modules as before. Type errors are `npm run typecheck`'s
// job, not this one's.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import process from 'node:process'
import { pathToFileURL } from 'node:url'

const BUNDLER = join(import.meta.dirname, 'bundle.mjs')

/** Bundles ENTRY (relative to the repo root) and runs it in this process, as if `node BUNDLE ...args` had started it. */
export async function runBundled(entry, name) {
  const file = execFileSync(process.execPath, [BUNDLER, entry, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
  process.argv[1] = file
  // Source maps stay off unless asked for (NODE_OPTIONS=--enable-source-maps):
  // the bundle's map, parsed, added ~5 MiB to the live heap, which V8 lets
  // grow by up to 4x under load; a stack trace names the bundle's lines,
  // each module marked with its source path in a comment.
  await import(pathToFileURL(file).href)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runBundled('fleet-server/src/main.ts', 'main')
