// npm run simulate -- FLAGS: a simulated fleet of real edge agents against a
// running fleet server. Progress goes to stderr (a bar on a terminal, plain
// lines otherwise); stdout gets a ready line and, at the end, one JSON summary
// line. Exit code 0 only when nothing is missing or duplicated, every enrolled
// cabinet was confirmed operating, every command ended done or justly expired,
// and (--stock) every cabinet's stock on the server is its ledger's.
import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { DEFAULT_OPERATOR } from './provision.js'
import { runFleet, type FleetOptions, type FleetProgress } from './run.js'

export const USAGE = `usage: npm run simulate -- --http URL --mqtt URL --token T [flags]
  --http URL[,URL…]       fleet server HTTP base, or a cluster's replicas (default http://127.0.0.1:8080)
  --mqtt URL[,URL…]       fleet server MQTT, or a cluster's brokers: each agent fails over between them
                          (default mqtt://127.0.0.1:1883)
  --token T               admin bearer token (default $FLEET_TOKEN, else ./data/admin-token)
  --cabinets N            cabinets, spread over the plan's counties by quota (default 50)
  --days D                virtual days of trade (default 7)
  --speed X               virtual seconds per real second (default 1440: a day per minute)
  --seed S                same seed, same cabinets' sales (default fupin)
  --start DATE            first day of trade, Asia/Shanghai (default: where the last run on --data stopped, else 2020-10-12)
  --certified-mean F      mean certified share of sales amount per cabinet (default 0.65)
  --outage-rate P         chance per cabinet per day that an outage of 1 h – 2 days starts (default 0)
  --city-outage H:L,...   city-wide outages from hour H of trade lasting L hours (default: one of 2–12 h when --outage-rate > 0)
  --crash-rate R          SIGKILLs per worker process per virtual day, restarted on the same ledgers (default 0)
  --clock-skew P          share of cabinets whose controller clock is off by minutes to days (default 0)
  --workers W             worker processes holding the agents (default 2)
  --data DIR              ledgers and fleet.json (default ./data/sim-fleet)
  --drain-timeout S       seconds allowed after trade ends for every sale to be acknowledged (default 120)
  --verify-ids            compare every sale id with the server (default when --cabinets <= 200)
  --steady R --steady-seconds S   instead of the day model: R sales per cabinet per hour, for S real seconds, with latency
  --no-settle             after the drain, do not let idle virtual time pass to the end of the forwarding periods
                          still held as INCOMPLETE_SYNC (by default it does, and every agent heartbeats, so the
                          verdict's forwarding figures judge whole periods; the next run starts from there)
  --enroll                deploy new cabinets by bootstrap code, as a real one is: created at a site for the operator,
                          a code asked for by the operator, traded by the agent for its credentials and an Ed25519
                          key (in DATA/ledgers/ID, reused next run); once its first contact installs it, the
                          operator confirms it operating
  --operator NAME         operator company of new cabinets (default 仿真运营公司); when given, the simulator acts
                          as an operator user of NAME (created once) for codes, confirmations and commands
  --commands N            remote commands sent during trade to random cabinets (price changes, sync, catalog
                          refresh; some into outages, a few expiring before the outage ends); the verdict checks
                          each ends done or justly expired, and that later sales carry a changed price (default 0)
  --stock                 stock: each cabinet gets a planogram (a slot per SKU, capacity/par from the seed) and is
                          filled at installation; sales name their slot; a slot run low is restocked after 1–30
                          virtual hours, half by staff at the cabinet (local API), half from the operator's dashboard;
                          the verdict compares each cabinet's stock on the server with its ledger's
  --telemetry             readings through each agent's telemetry entry point: temperature (about 4 °C in the
                          40% chilled cabinets), the door open at each restock by staff, a rare cooling failure
                          (above 8 °C for an hour) or payment/vending fault from the seed; a reading per cabinet
                          every virtual minute, or every cabinets/45 real seconds if longer (the fleet sends no more
                          than the field's 2,700 cabinets a minute);
                          the summary counts the temperature/door/fault alerts raised and open (not judged)
  --log-level L           agents' log level on stderr (default silent)`

function numberFlag(v: string | undefined, name: string, dflt: number, min = 0): number {
  if (v === undefined) return dflt
  const n = Number(v)
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: expected a number >= ${min}, got ${v}`)
  return n
}

/** A comma-separated list of URLs with one of `protocols`, checked, as one string again. */
function urlList(v: string, name: string, protocols: readonly string[]): string {
  const urls = v.split(',').map((u) => u.trim())
  for (const u of urls) {
    let protocol: string
    try {
      protocol = new URL(u).protocol
    } catch {
      throw new Error(`--${name}: not a URL: ${u}`)
    }
    if (!protocols.includes(protocol)) throw new Error(`--${name}: expected ${protocols.map((p) => `${p}//`).join(' or ')} URLs, got ${u}`)
  }
  return urls.join(',')
}

export function parseFlags(argv: string[], env: NodeJS.ProcessEnv): FleetOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      http: { type: 'string' }, mqtt: { type: 'string' }, token: { type: 'string' }, cabinets: { type: 'string' }, days: { type: 'string' },
      speed: { type: 'string' }, seed: { type: 'string' }, start: { type: 'string' }, 'certified-mean': { type: 'string' },
      'outage-rate': { type: 'string' }, 'city-outage': { type: 'string' }, 'crash-rate': { type: 'string' }, 'clock-skew': { type: 'string' },
      workers: { type: 'string' }, data: { type: 'string' }, 'drain-timeout': { type: 'string' }, 'verify-ids': { type: 'boolean' },
      steady: { type: 'string' }, 'steady-seconds': { type: 'string' }, 'log-level': { type: 'string' }, 'no-settle': { type: 'boolean' }, help: { type: 'boolean' },
      enroll: { type: 'boolean' }, operator: { type: 'string' }, commands: { type: 'string' }, stock: { type: 'boolean' }, telemetry: { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const token = values.token ?? env.FLEET_TOKEN ?? env.FLEET_ADMIN_TOKEN ?? (existsSync('data/admin-token') ? readFileSync('data/admin-token', 'utf8').trim() : undefined)
  if (!token) throw new Error('--token (or FLEET_TOKEN) is required: the fleet server admin token, e.g. $(cat data/admin-token)')
  const cabinets = numberFlag(values.cabinets, 'cabinets', 50, 1)
  const seed = values.seed ?? 'fupin'
  const outageRate = numberFlag(values['outage-rate'], 'outage-rate', 0)
  const days = numberFlag(values.days, 'days', 7, 0.01)
  const startMs = values.start === undefined ? null : Date.parse(`${values.start}T00:00:00+08:00`)
  if (startMs !== null && Number.isNaN(startMs)) throw new Error(`--start: expected YYYY-MM-DD, got ${values.start}`)
  let cityOutages: Array<[number, number]> = []
  if (values['city-outage'] !== undefined) {
    cityOutages = values['city-outage'].split(',').filter(Boolean).map((p) => {
      const [h, l] = p.split(':').map(Number)
      if (!Number.isFinite(h) || !Number.isFinite(l) || l! <= 0) throw new Error(`--city-outage: expected HOUR:LENGTH, got ${p}`)
      return [h!, l!]
    })
  } else if (outageRate > 0) {
    // One city-wide outage somewhere in the middle of the run, 2–12 h long, from the seed.
    let x = 0
    for (const ch of seed) x = (x * 31 + ch.charCodeAt(0)) >>> 0
    const span = days * 24
    cityOutages = [[Math.round(span * (0.25 + ((x % 1000) / 1000) * 0.4)), 2 + (x % 11)]]
  }
  const steadyRate = values.steady === undefined ? null : numberFlag(values.steady, 'steady', 0, 0.001)
  const commands = numberFlag(values.commands, 'commands', 0)
  if (!Number.isInteger(commands)) throw new Error(`--commands: expected a whole number, got ${values.commands}`)
  if (values.operator !== undefined && (values.operator.trim() === '' || values.operator.length > 100)) throw new Error('--operator: expected a name of 1–100 characters')
  return {
    httpUrl: urlList(values.http ?? 'http://127.0.0.1:8080', 'http', ['http:', 'https:']),
    mqttUrl: urlList(values.mqtt ?? 'mqtt://127.0.0.1:1883', 'mqtt', ['mqtt:', 'tcp:']),
    token,
    cabinets,
    days,
    speed: numberFlag(values.speed, 'speed', 1440, 1),
    seed,
    certifiedMean: Math.min(1, numberFlag(values['certified-mean'], 'certified-mean', 0.65)),
    outageRate: Math.min(1, outageRate),
    crashRate: numberFlag(values['crash-rate'], 'crash-rate', 0),
    clockSkewRate: Math.min(1, numberFlag(values['clock-skew'], 'clock-skew', 0)),
    cityOutages,
    startMs,
    workers: numberFlag(values.workers, 'workers', 2, 1),
    dataDir: values.data ?? './data/sim-fleet',
    drainTimeoutMs: numberFlag(values['drain-timeout'], 'drain-timeout', 120) * 1000,
    verifyIds: values['verify-ids'] ?? cabinets <= 200,
    steady: steadyRate === null ? null : { perCabinetPerHour: steadyRate, seconds: numberFlag(values['steady-seconds'], 'steady-seconds', 30, 1) },
    settle: values['no-settle'] !== true,
    enroll: values.enroll === true,
    operator: values.operator ?? DEFAULT_OPERATOR,
    asOperatorUser: values.operator !== undefined,
    commands,
    stock: values.stock === true,
    telemetry: values.telemetry === true,
    logLevel: values['log-level'] ?? 'silent',
  }
}

function progressPrinter(): (p: FleetProgress) => void {
  const isTty = process.stderr.isTTY === true
  let lastLine = 0
  return (p) => {
    const frac = p.days > 0 ? p.day / p.days : 0
    const text = `day ${p.day.toFixed(2)}/${p.days}  sold ${p.sold.toLocaleString('en')}  acked ${p.acked.toLocaleString('en')}  online ${p.online}/${p.cabinets}  connected ${p.connected}  crashes ${p.crashes}`
    if (isTty) {
      const width = 30
      const filled = Math.round(Math.min(1, frac) * width)
      process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K`)
    } else if (Date.now() - lastLine >= 5_000) {
      lastLine = Date.now()
      process.stderr.write(`simulate: ${text}\n`)
    }
  }
}

async function main(): Promise<void> {
  let opts: FleetOptions
  try {
    opts = parseFlags(process.argv.slice(2), process.env)
  } catch (err) {
    process.stderr.write(`simulate: ${(err as Error).message}\n${USAGE}\n`)
    process.exit(2)
  }
  const summary = await runFleet({
    ...opts,
    onProgress: progressPrinter(),
    onStage: (stage, detail) => {
      if (process.stderr.isTTY) process.stderr.write('\n')
      process.stderr.write(`simulate: ${stage}${detail ? ` ${JSON.stringify(detail)}` : ''}\n`)
      if (stage === 'trading') process.stdout.write(`${JSON.stringify({ event: 'ready', cabinets: opts.cabinets, workers: opts.workers })}\n`)
    },
  })
  process.stdout.write(`${JSON.stringify(summary)}\n`)
  process.exit(summary.isOk ? 0 : 1)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`simulate: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  })
}
