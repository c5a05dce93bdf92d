// Preloaded into a fleet server by bench/micro/storm-memory.ts (node --import,
// with --expose-gc): on SIGUSR2 prints one JSON line of the process's memory
// ({"event":"memory", ...}) labelled with the text of the MEM_PROBE_REQUEST
// file, which also asks for more: 'gc…' a second line after a full GC,
// 'gc+snapshot' a heap snapshot, 'alloc-start'/'alloc-stop' a sampling
// allocation profile (garbage included; 'alloc-start:promoted': only what
// survived the young generation) written to MEM_PROBE_DIR.
// Changes nothing else of the server.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { join } from 'node:path'
import process from 'node:process'
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8'

const MiB = (n) => Math.round((n / 1048576) * 10) / 10
const sample = (label) => {
  const m = process.memoryUsage()
  const h = getHeapStatistics()
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024
  return {
    event: 'memory',
    label,
    rssMiB: Math.round(rss * 10) / 10,
    heapUsedMiB: MiB(m.heapUsed),
    heapTotalMiB: MiB(m.heapTotal),
    externalMiB: MiB(m.external),
    arrayBuffersMiB: MiB(m.arrayBuffers),
    mallocedMiB: MiB(h.malloced_memory),
    peakMallocedMiB: MiB(h.peak_malloced_memory),
    handles: process.getActiveResourcesInfo().length,
  }
}
const request = process.env.MEM_PROBE_REQUEST // a file: its text says what to do
let session = null
process.on('SIGUSR2', () => {
  const what = request && existsSync(request) ? readFileSync(request, 'utf8').trim() : ''
  if (request) rmSync(request, { force: true })
  process.stdout.write(`${JSON.stringify(sample(what || 'sample'))}\n`)
  if (what.startsWith('gc') && typeof globalThis.gc === 'function') {
    globalThis.gc()
    process.stdout.write(`${JSON.stringify(sample(`${what}:after-gc`))}\n`)
  }
  if (what.startsWith('alloc-start')) {
    session ??= new Session()
    session.connect()
    // 'alloc-start:promoted' leaves out what a scavenge collected: what is
    // left should be what was promoted (live at the stop, or collected by a
    // full GC). It overcounts: on the ingest path it called ~58 MB a round
    // promoted where --trace-gc-nvp counted ~32, and sites that a tracer
    // showed were never promoted at 28-97% (issue 13, session 20).
    const promoted = what === 'alloc-start:promoted'
    session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !promoted })
  }
  if (what === 'alloc-stop' && session) {
    session.post('HeapProfiler.stopSampling', (err, r) => {
      const file = join(process.env.MEM_PROBE_DIR ?? '.', `alloc-${process.pid}.heapprofile`)
      if (!err) writeFileSync(file, JSON.stringify(r.profile))
      process.stdout.write(`${JSON.stringify({ event: 'memory-alloc', file, error: err ? String(err) : null })}\n`)
      session.disconnect()
    })
  }
  if (what.startsWith('gc+snapshot')) {
    const file = writeHeapSnapshot(join(process.env.MEM_PROBE_DIR ?? '.', `storm-${process.pid}.heapsnapshot`))
    process.stdout.write(`${JSON.stringify({ event: 'memory-snapshot', file })}\n`)
  }
})
