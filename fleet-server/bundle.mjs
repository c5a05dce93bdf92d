// Bundles a TypeScript entry point with esbuild for `npm start`
// (fleet-server/start.mjs), in a process of its own: esbuild's synchronous API
// keeps a worker thread alive in the process that calls it, which cost the
// server as much memory as the bundle saved (issue 13, session 21).
// A bundle is named by its content, so concurrent starts of one tree write
// the same file, and written under a temporary name first, so a start never
// reads a half-written one.
//   node fleet-server/bundle.mjs ENTRY.ts NAME   → prints the bundle's path
import { buildSync } from 'esbuild'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import process from 'node:process'
import { pathToFileURL } from 'node:url'

const ROOT = join(import.meta.dirname, '..')
/** Where bundles go (gitignored); the dashboard's routes.ts looks for its static files relative to it too. */
const SERVER_BUNDLE_DIR = join(ROOT, 'dist', 'server')
/** Bundles of other sources are removed once this old: a server still running one has read it already. */
const STALE_MS = 60 * 60 * 1000

/**
 * Writes the bundle of ENTRY (a TypeScript module, relative to the repo root)
 * to dist/server/NAME-HASH.mjs, if not there yet, and returns its path.
 */
function bundle(entry, name = 'main') {
  const built = buildSync({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    outdir: SERVER_BUNDLE_DIR,
    entryNames: `${name}-[hash]`,
    outExtension: { '.js': '.mjs' },
    write: false,
    logLevel: 'warning',
  })
  mkdirSync(SERVER_BUNDLE_DIR, { recursive: true })
  // The map first: the module names it in its last line.
  const files = [...built.outputFiles].sort((a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')))
  for (const f of files) {
    if (existsSync(f.path)) continue
    const tmp = `${f.path}.${process.pid}.tmp`
    writeFileSync(tmp, f.contents)
    renameSync(tmp, f.path)
  }
  const module = files.find((f) => f.path.endsWith('.mjs'))
  if (!module) throw new Error(`esbuild wrote no module for ${entry}`)
  const own = new Set(files.map((f) => basename(f.path)))
  for (const file of readdirSync(SERVER_BUNDLE_DIR)) {
    if (own.has(file) || !file.startsWith(`${name}-`)) continue
    const path = join(SERVER_BUNDLE_DIR, file)
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { force: true })
    } catch {
      // Removed by another start meanwhile.
    }
  }
  return module.path
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [entry, name] = process.argv.slice(2)
  if (!entry) throw new Error('usage: node fleet-server/bundle.mjs ENTRY.ts [NAME]')
  process.stdout.write(`${bundle(entry, name)}\n`)
}
