// Runs a bench program the way `npm start` runs the fleet server (bundled by
// fleet-server/start.mjs, plain node, no tsx loader), so a figure that sets
// the two side by side (bare aedes' RSS, the floor's CPU) compares like with like.
//   node bench/compiled.mjs bench/floor.ts [args…]
import { basename } from 'node:path'
import process from 'node:process'
import { runBundled } from '../fleet-server/start.mjs'

const [entry, ...args] = process.argv.slice(2)
if (!entry) throw new Error('usage: node bench/compiled.mjs PROGRAM.ts [args…]')
process.argv.splice(2, process.argv.length, ...args)
await runBundled(entry, basename(entry, '.ts'))
