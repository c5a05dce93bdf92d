// Remote commands as a module (issue 16 §5): the routes, the resend of
// undelivered commands when a cabinet comes online, and the cabinet's reports.
// Resent on its presence "online", which the agent publishes only once it has
// subscribed to its down topics (the embedded broker's session event comes
// before that, and a command published then would be lost).
import type { Logger } from 'pino'
import { decodeMessage, EventMsg } from '../../../shared/src/index.js'
import type { MessageBus } from '../broker/index.js'
import type { FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import { commandRoutes } from './routes.js'
import { createCommandService, isOnlinePresence, type CommandService } from './service.js'
import { createCommandStore } from './store.js'

export interface CommandsModule extends FleetModule {
  readonly service: () => CommandService
}

export interface CommandsModuleDeps {
  readonly database: FleetDb
  readonly bus: () => MessageBus | null
  readonly now: () => Date
  readonly log: Logger
}

export function commandsModule(deps: CommandsModuleDeps): CommandsModule {
  const log = deps.log.child({ component: 'commands' })
  const service = slot<CommandService>('the command service')
  const failed = (what: string, cabinetId: string) => (err: unknown) => log.error({ err, cabinetId }, what)
  return {
    name: 'commands',
    service: () => service.get(),
    up: {
      // Once per presence change (one replica of a NATS cluster), on every bus.
      presenceOnce: (id, payload) => {
        const s = service.peek()
        if (s && isOnlinePresence(id, payload)) s.resend(id).catch(failed('resending commands failed', id))
      },
      events: (id, payload) => {
        const s = service.peek()
        if (!s) return
        const d = decodeMessage(EventMsg, payload)
        if (!d.ok || d.data.cabinetId !== id || d.data.kind !== 'command') return
        s.event(id, d.data).catch(failed('storing a command report failed', id))
      },
    },
    routes: () => commandRoutes(service.get()),
    start() {
      service.set(
        createCommandService({
          store: createCommandStore(deps.database),
          publish: (topic, payload) => deps.bus()?.publish(topic, payload, { qos: 1 }),
          now: deps.now,
          log,
        }),
      )
    },
    stop() {},
  }
}
