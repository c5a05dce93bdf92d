// Bare aedes in its own process, nothing of ours: the baseline for how much
// memory holding N MQTT connections costs. Accepts every CONNECT (no auth);
// prints {"event":"ready","mqtt":PORT}; ends on SIGTERM.
import { createServer } from 'node:net'
import { Aedes } from 'aedes'

const broker = await Aedes.createBroker()
const server = createServer(broker.handle)
server.listen(0, '127.0.0.1', () => {
  const a = server.address()
  process.stdout.write(`${JSON.stringify({ event: 'ready', mqtt: typeof a === 'object' && a ? a.port : 0 })}\n`)
})
process.once('SIGTERM', () => {
  broker.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 3_000).unref()
})
