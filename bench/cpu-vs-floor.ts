// ingest.cpuVsFloor (issue 13): the fleet server's CPU per one-sale message
// against the floor server's (bench/floor.ts), same load generator, same run.
//
// Both servers run as programs of their own, started as a deployment starts
// them (the fleet: fleet-server/src/main.ts, as `npm start`), and both stay up
// for the whole measurement. The load alternates between them in short
// rounds (fleet first in every other round), and each round's CPU is read
// from outside the same way for both: /proc/PID/task/*/schedstat, the
// nanoseconds each thread spent on a CPU. On this shared 2-core machine one
// 10-second run of either server swung by a third from one minute to the
// next; adjacent rounds of a few seconds see the same machine, so the median
// of their ratios holds still where one pair could not.
//
// Each round loads fresh cabinets (the fleet would otherwise answer a
// repeated chain as replays): provisioned through the API before the first.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runLoad } from './child.js'
import { COMPILED, NPM_START, startProgram, type Program } from './procs.js'
import { schedCpuNs } from './thread-cpu.js'

const ADMIN = 'bench-admin-token-0123456789'

export interface CpuVsFloorRound {
  /** µs of CPU per message, whole process and main thread. */
  readonly fleet: { readonly server: number; readonly mainThread: number; readonly salesPerS: number }
  readonly floor: { readonly server: number; readonly mainThread: number; readonly salesPerS: number }
  readonly ratio: number
}

export interface CpuVsFloorResult {
  readonly rounds: readonly CpuVsFloorRound[]
  /** Median of the rounds' ratios: the record. */
  readonly ratio: number
  /** Total fleet CPU over total floor CPU, all rounds. */
  readonly ratioOfTotals: number
  /** Medians over the rounds, µs per message. */
  readonly fleetServerUs: number
  readonly fleetMainThreadUs: number
  readonly floorServerUs: number
  readonly floorMainThreadUs: number
  readonly messagesPerRound: number
  /** Sales the fleet reported stored, of those sent (every round's cabinets). */
  readonly fleetStored: number
  readonly fleetSent: number
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const r1 = (x: number): number => Math.round(x * 10) / 10

async function burst(server: Program, spec: Parameters<typeof runLoad>[0]): Promise<{ allUs: number; mainUs: number; messages: number; salesPerS: number }> {
  const c0 = schedCpuNs(server.pid)
  const r = await runLoad(spec)
  const c1 = schedCpuNs(server.pid)
  if (!c0 || !c1) throw new Error('cpuVsFloor needs /proc/PID/task/TID/schedstat (Linux)')
  return { allUs: (c1.all - c0.all) / 1000, mainUs: (c1.main - c0.main) / 1000, messages: r.messages, salesPerS: r.salesPerS }
}

export async function cpuVsFloor(opts: { rounds: number; cabinets: number; salesPerCabinet: number; window: number; log: (s: string) => void }): Promise<CpuVsFloorResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-cpu-vs-floor-'))
  const floor = await startProgram(COMPILED, ['bench/floor.ts'], {}, 60_000, (process.env.FLOOR_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''))
  let fleet: Program | null = null
  try {
    fleet = await startProgram(NPM_START, [], {
      FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'error', FLEET_LOG_REQUESTS: 'false',
      // Scheduled reports and backups run on the wall clock: off, so no round depends on when the bench ran.
      FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false',
    }, 60_000, (process.env.FLEET_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''))
    const http = `http://127.0.0.1:${String(fleet.ready.http)}`
    opts.log(`bench: cpuVsFloor: provisioning ${opts.rounds * opts.cabinets} cabinets …`)
    const credentials: Array<Array<{ username: string; password: string }>> = []
    for (let r = 0; r < opts.rounds + 1; r++) {
      const round: Array<{ username: string; password: string }> = []
      for (let i = 0; i < opts.cabinets; i++) {
        const res = await fetch(`${http}/api/v1/cabinets`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ countyCode: '341125' }) })
        if (!res.ok) throw new Error(`provisioning failed: ${res.status} ${await res.text()}`)
        round.push(((await res.json()) as { mqtt: { username: string; password: string } }).mqtt)
      }
      credentials.push(round)
    }
    const load = { mode: 'sales' as const, host: '127.0.0.1', salesPerClient: opts.salesPerCabinet, batchSize: 1, window: opts.window }
    const rounds: CpuVsFloorRound[] = []
    let fleetAll = 0
    let floorAll = 0
    // Round 0 warms both up (JIT, caches, the first writes of a new database) and is not counted.
    for (let r = 0; r < opts.rounds + 1; r++) {
      opts.log(`bench: cpuVsFloor round ${r}/${opts.rounds}${r === 0 ? ' (warm-up)' : ''} (${opts.cabinets} cabinets × ${opts.salesPerCabinet} one-sale messages each server) …`)
      const runFleet = () => burst(fleet!, { ...load, port: Number(fleet!.ready.mqtt), credentials: credentials[r]! })
      const floorCredentials = Array.from({ length: opts.cabinets }, (_, i) => ({ username: `FLOOR-${r}-${String(i).padStart(4, '0')}`, password: 'floor' }))
      const runFloor = () => burst(floor, { ...load, port: Number(floor.ready.mqtt), credentials: floorCredentials })
      // Alternate which goes first, so a machine getting faster or slower favours neither.
      let f: Awaited<ReturnType<typeof burst>>
      let m: Awaited<ReturnType<typeof burst>>
      if (r % 2 === 0) {
        f = await runFloor()
        m = await runFleet()
      } else {
        m = await runFleet()
        f = await runFloor()
      }
      if (r === 0) continue
      fleetAll += m.allUs
      floorAll += f.allUs
      const fleetUs = m.allUs / m.messages
      const floorUs = f.allUs / f.messages
      rounds.push({
        fleet: { server: r1(fleetUs), mainThread: r1(m.mainUs / m.messages), salesPerS: Math.round(m.salesPerS) },
        floor: { server: r1(floorUs), mainThread: r1(f.mainUs / f.messages), salesPerS: Math.round(f.salesPerS) },
        ratio: Math.round((fleetUs / floorUs) * 1000) / 1000,
      })
    }
    // What the fleet says it committed: every message of every round, once.
    const metrics = await (await fetch(`${http}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()
    const stored = Number(/^fleet_sales_ingested_total (\d+)/m.exec(metrics)?.[1] ?? NaN)
    const messagesPerRound = opts.cabinets * opts.salesPerCabinet
    return {
      rounds,
      // An even count of rounds averages the middle two: rounded, or it prints as 1.1844999999999999.
      ratio: Math.round(median(rounds.map((x) => x.ratio)) * 1000) / 1000,
      ratioOfTotals: Math.round((fleetAll / floorAll) * 1000) / 1000,
      fleetServerUs: r1(median(rounds.map((x) => x.fleet.server))),
      fleetMainThreadUs: r1(median(rounds.map((x) => x.fleet.mainThread))),
      floorServerUs: r1(median(rounds.map((x) => x.floor.server))),
      floorMainThreadUs: r1(median(rounds.map((x) => x.floor.mainThread))),
      messagesPerRound,
      fleetStored: stored,
      fleetSent: messagesPerRound * (opts.rounds + 1),
    }
  } finally {
    await fleet?.stop()
    await floor.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
