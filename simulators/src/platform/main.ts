// npm run platform-sim -- --port P [--fail-rate 0.3] [--latency-ms 200] [--secret S] [--data FILE]
//   [--bad-answers MODE,MODE…] [--bad-rate R]  (modes: bad-answers.ts)
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { z } from 'zod'
import { BAD_ANSWER_MODES, buildPlatform } from './app.js'

const Flags = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(0),
  host: z.string().default('127.0.0.1'),
  'fail-rate': z.coerce.number().min(0).max(1).default(0),
  'latency-ms': z.coerce.number().int().min(0).max(600_000).default(0),
  secret: z.string().min(1).optional(),
  data: z.string().min(1).optional(),
  'bad-answers': z
    .string()
    .default('')
    .transform((v) => v.split(',').map((m) => m.trim()).filter(Boolean))
    .pipe(z.array(z.enum(BAD_ANSWER_MODES))),
  'bad-rate': z.coerce.number().min(0).max(1).default(1),
})

async function main() {
  let flags: z.infer<typeof Flags>
  try {
    const { values } = parseArgs({
      options: { port: { type: 'string' }, host: { type: 'string' }, 'fail-rate': { type: 'string' }, 'latency-ms': { type: 'string' }, secret: { type: 'string' }, data: { type: 'string' },
        'bad-answers': { type: 'string' }, 'bad-rate': { type: 'string' } },
      strict: true,
    })
    flags = Flags.parse({ ...values, secret: values.secret ?? (process.env.PLATFORM_SECRET || undefined) })
  } catch (err) {
    process.stderr.write(`platform-sim: invalid arguments: ${err instanceof z.ZodError ? z.prettifyError(err) : (err as Error).message}\n`)
    process.stderr.write(`usage: platform-sim --port P [--fail-rate 0..1] [--latency-ms N] [--secret KEY] [--data FILE] [--bad-answers ${BAD_ANSWER_MODES.join(',')}] [--bad-rate 0..1]\n`)
    process.exit(2)
  }
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' })
  const { app } = await buildPlatform({ failRate: flags['fail-rate'], latencyMs: flags['latency-ms'], secret: flags.secret ?? null, storePath: flags.data ?? null, badAnswers: flags['bad-answers'], badRate: flags['bad-rate'], logger })
  await app.listen({ port: flags.port, host: flags.host })
  const addr = app.server.address()
  let stopping = false
  const stop = () => {
    // on, not once: a process group's second signal must not kill us mid-close.
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(1), 10_000).unref()
    void app.close().then(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // Ready only once the signal handlers are in place.
  process.stdout.write(`${JSON.stringify({ event: 'ready', http: typeof addr === 'object' && addr ? addr.port : flags.port })}\n`)
}

await main()
