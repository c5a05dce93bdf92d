// npm run platform-sim -- --port P [--fail-rate 0.3] [--latency-ms 200] [--secret S] [--data FILE]
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { z } from 'zod'
import { buildPlatform } from './app.js'

const Flags = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(0),
  host: z.string().default('127.0.0.1'),
  'fail-rate': z.coerce.number().min(0).max(1).default(0),
  'latency-ms': z.coerce.number().int().min(0).max(600_000).default(0),
  secret: z.string().min(1).optional(),
  data: z.string().min(1).optional(),
})

async function main() {
  let flags: z.infer<typeof Flags>
  try {
    const { values } = parseArgs({
      options: { port: { type: 'string' }, host: { type: 'string' }, 'fail-rate': { type: 'string' }, 'latency-ms': { type: 'string' }, secret: { type: 'string' }, data: { type: 'string' } },
      strict: true,
    })
    flags = Flags.parse({ ...values, secret: values.secret ?? (process.env.PLATFORM_SECRET || undefined) })
  } catch (err) {
    process.stderr.write(`platform-sim: invalid arguments: ${err instanceof z.ZodError ? z.prettifyError(err) : (err as Error).message}\n`)
    process.stderr.write('usage: platform-sim --port P [--fail-rate 0..1] [--latency-ms N] [--secret KEY] [--data FILE]\n')
    process.exit(2)
  }
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' })
  const { app } = await buildPlatform({ failRate: flags['fail-rate'], latencyMs: flags['latency-ms'], secret: flags.secret ?? null, storePath: flags.data ?? null, logger })
  await app.listen({ port: flags.port, host: flags.host })
  const addr = app.server.address()
  const stop = () => {
    setTimeout(() => process.exit(1), 10_000).unref()
    void app.close().then(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  // Ready only once the signal handlers are in place.
  process.stdout.write(`${JSON.stringify({ event: 'ready', http: typeof addr === 'object' && addr ? addr.port : flags.port })}\n`)
}

await main()
