// Planogram and stock as a module (issue 16 §3): the routes and the cabinets'
// stock reports (up/stock; on NATS one replica takes each). Its alert sources
// (alerts.ts) are handed to the alerts module by the composition root.
import type { Logger } from 'pino'
import type { CommandService } from '../commands/index.js'
import type { FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import { stockRoutes } from './routes.js'
import { createStockService, type StockService } from './service.js'
import { createStockStore } from './store.js'

export interface StockModule extends FleetModule {
  readonly service: () => StockService
}

export interface StockModuleDeps {
  readonly database: FleetDb
  readonly commands: () => CommandService
  readonly countyName: (code: string) => string
  readonly now: () => Date
  readonly log: Logger
}

export function stockModule(deps: StockModuleDeps): StockModule {
  const log = deps.log.child({ component: 'stock' })
  const service = slot<StockService>('the stock service')
  const writing = new Set<string>()
  const waiting = new Map<string, Buffer>()
  const write = (id: string, payload: Buffer): void => {
    const s = service.peek()
    if (!s) return
    writing.add(id)
    s.report(id, payload)
      .catch((err: unknown) => log.error({ err, cabinetId: id }, 'storing a stock report failed'))
      .finally(() => {
        writing.delete(id)
        const next = waiting.get(id)
        if (next) {
          waiting.delete(id)
          write(id, next)
        }
      })
  }
  return {
    name: 'stock',
    service: () => service.get(),
    up: {
      stock: (id, payload) => {
        // One write per cabinet at a time, and only its newest report waits
        // behind it: a cabinet flooding reports (each supersedes the last)
        // holds one payload here, not a queue of writes.
        if (writing.has(id)) return void waiting.set(id, payload)
        write(id, payload)
      },
    },
    routes: () => stockRoutes(service.get()),
    start() {
      service.set(createStockService({ store: createStockStore(deps.database), commands: deps.commands, countyName: deps.countyName, now: deps.now, log }))
    },
    stop() {},
  }
}
