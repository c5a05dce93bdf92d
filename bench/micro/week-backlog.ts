// The bench's fleet part on one server (bench/run.ts: the week, then the
// backlog), with bench/micro/mem-probe.mjs preloaded: RSS peaks of both runs
// as the record takes them; where RssAnon peaked, V8's heap and external
// memory at that moment; after each run a full GC's view, glibc's
// malloc_stats() (through gdb, into this program's stderr) and the server's
// resident memory by mapping.
//   node --import tsx bench/micro/week-backlog.ts
// WB_SKIP_WEEK=1: the backlog alone on a fresh server. WB_SNAP=1: a heap
// snapshot after each full GC; WB_SNAP_EXTERNAL=MiB: one the first time the
// server's array buffers pass MiB (what holds them mid-load:
// bench/micro/buffer-retainers.mjs). Files go to WB_DIR (default: a
// kept temp dir). WB_NODE_ARGS='--trace-gc' adds node flags.
// Issue 13, session 22: mid-backlog on a fresh server, 95 of 99 MiB of array
// buffers were socket reads pinned by retained presence payloads (views of
// the read they arrived in); fleet-server/src/broker/embedded.ts now keeps
// retained payloads as copies.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { simulate, startFleetServer } from '../fleet.js'

const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`)
const dir = process.env.WB_DIR ?? (await mkdtemp(join(tmpdir(), 'bench-week-backlog-')))
await mkdir(dir, { recursive: true })
const request = join(dir, 'probe-request')
process.env.MEM_PROBE_REQUEST = request
process.env.MEM_PROBE_DIR = dir
const nodeArgs = ['--expose-gc', '--import', join(import.meta.dirname, 'mem-probe.mjs'), ...(process.env.WB_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')]
const f = await startFleetServer(nodeArgs)

/** RssAnon/RssFile of the server (MiB) and, from its last 'sample' line, V8's heap: the sample where RssAnon peaked. */
const kib = (k: string, text: string) => Math.round(Number(new RegExp(`${k}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) / 1024)
let lastHeap: Record<string, unknown> = {}
let peak: Record<string, unknown> = { rssAnonMiB: 0 }
function track(): () => void {
  peak = { rssAnonMiB: 0 }
  const timer = setInterval(() => {
    try {
      const st = readFileSync(`/proc/${f.server.pid}/status`, 'utf8')
      const anon = kib('RssAnon', st)
      if (anon > (peak.rssAnonMiB as number)) peak = { rssAnonMiB: anon, rssFileMiB: kib('RssFile', st), heap: lastHeap }
      f.server.child.kill('SIGUSR2') // an unlabelled sample: V8's heap for the next peak
    } catch { /* gone */ }
  }, 500)
  return () => clearInterval(timer)
}

/** What glibc's allocator holds (malloc_stats() into the server's stderr, through gdb), and the largest anonymous mappings. */
function nativeView(label: string): void {
  try {
    process.stderr.write(`--- malloc_stats ${label}\n`)
    execFileSync('gdb', ['-p', String(f.server.pid), '-batch', '-ex', 'call (void)malloc_stats()'], { stdio: ['ignore', 'ignore', 'ignore'] })
  } catch (err) { log(`gdb: ${String(err)}`) }
  const smaps = readFileSync(`/proc/${f.server.pid}/smaps`, 'utf8').split('\n')
  const maps: Array<{ name: string; sizeKiB: number; rssKiB: number }> = []
  for (let i = 0; i < smaps.length; i++) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(smaps[i]!)
    if (!m) continue
    const size = Number(/Size:\s+(\d+)/.exec(smaps[i + 1] ?? '')?.[1] ?? 0)
    const rss = Number(/Rss:\s+(\d+)/.exec(smaps.slice(i + 1, i + 6).join('\n'))?.[1] ?? 0)
    maps.push({ name: m[1] || '(anon)', sizeKiB: size, rssKiB: rss })
  }
  const by = new Map<string, number>()
  for (const x of maps) {
    const key = x.name.startsWith('/') ? x.name.replace(/.*\//, '') : `${x.name} size=${x.sizeKiB >= 65536 ? '>=64M' : x.sizeKiB >= 1024 ? '1-64M' : '<1M'}`
    by.set(key, (by.get(key) ?? 0) + x.rssKiB)
  }
  log(`smaps ${label}: ${[...by].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${k} ${Math.round(v / 1024)}`).join(' | ')}`)
}

async function probe(label: string): Promise<Record<string, unknown>> {
  await writeFile(request, process.env.WB_SNAP ? `gc+snapshot ${label}` : `gc ${label}`)
  f.server.child.kill('SIGUSR2')
  const out: Record<string, unknown> = {}
  for (;;) {
    const e = await nextEvent()
    if (e.event === 'memory' && String(e.label).endsWith(':after-gc')) out.afterGc = e
    else if (e.event === 'memory') out.before = e
    else if (e.event === 'memory-snapshot') out.snapshot = e.file
    if (out.afterGc && (!process.env.WB_SNAP || out.snapshot)) return out
  }
}

let snapAtExternal = Number(process.env.WB_SNAP_EXTERNAL ?? 0)
// One reader of the server's events: 'sample' lines feed the tracker, the rest go to probe().
const events: Array<Record<string, unknown>> = []
let wake: (() => void) | null = null
void (async () => {
  for (;;) {
    const e = await f.server.nextEvent(3_600_000).catch(() => null)
    if (!e) return
    if (e.event === 'memory' && e.label === 'sample') {
      lastHeap = { heapTotalMiB: e.heapTotalMiB, heapUsedMiB: e.heapUsedMiB, externalMiB: e.externalMiB, rssMiB: e.rssMiB }
      // WB_SNAP_EXTERNAL=MiB: one heap snapshot the first time array buffers pass it (what holds them, mid-load).
      if (snapAtExternal > 0 && (e.arrayBuffersMiB as number) > snapAtExternal) {
        snapAtExternal = 0
        await writeFile(request, 'gc+snapshot mid-load')
        f.server.child.kill('SIGUSR2')
        log(`mid-load snapshot at ${JSON.stringify(e)}`)
      }
    } else if (e.event === 'memory' && String(e.label).includes('mid-load')) log(`mid-load: ${JSON.stringify(e)}`)
    else if (e.event === 'memory-snapshot' && !process.env.WB_SNAP) log(`snapshot: ${String(e.file)}`)
    else {
      events.push(e)
      ;(wake as (() => void) | null)?.()
    }
  }
})()
async function nextEvent(): Promise<Record<string, unknown>> {
  while (events.length === 0) await new Promise<void>((r) => (wake = r))
  return events.shift()!
}
const result: Record<string, unknown> = { dir }
try {
  if (!process.env.WB_SKIP_WEEK) {
    log('week: 2,700 agents, 7 virtual days …')
    const stop = track()
    const week = await simulate(f, { cabinets: 2700, days: 7, speed: 4000, outageRate: 0.05, cityOutages: [[80, 4]], crashRate: 0.2, clockSkewRate: 0.02 }, log)
    stop()
    result.weekPeakRssMiB = week.serverRssMiB
    result.weekPeak = peak
    nativeView('after-week')
    result.afterWeek = await probe('after-week')
    log(JSON.stringify(result.afterWeek))
  }
  log('backlog: 3 virtual days offline, then all reconnect …')
  const stop = track()
  const backlog = await simulate(f, { cabinets: 2700, days: 3, speed: 10_000_000, cityOutages: [[0, 72]], drainTimeoutMs: 120_000 }, log)
  stop()
  result.backlogPeakRssMiB = backlog.serverRssMiB
  result.backlogDrainMs = backlog.drain.drainedMs
  result.backlogPeak = peak
  nativeView('after-backlog')
  result.afterBacklog = await probe('after-backlog')
} finally {
  await f.close()
}
console.log(JSON.stringify(result))
// The event reader above waits on a long timer: nothing else is left to do.
process.exit(0)
