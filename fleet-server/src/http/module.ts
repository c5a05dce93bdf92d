// The HTTP server as a module (issue 13): created at its place in the start
// list, so it closes after the modules started later (forwarding's stop
// releases a run request waiting on its sends, answered before HTTP's close
// cuts the open connections); routes are registered and the port listened
// on once every module has started.
import type { FastifyInstance } from 'fastify'
import { slot, type FleetModule } from '../modules.js'
import { createHttp, type HttpOptions } from './server.js'

export interface HttpModule extends FleetModule {
  readonly http: () => FastifyInstance
}

export function httpModule(opts: HttpOptions): HttpModule {
  const http = slot<FastifyInstance>('the HTTP server')
  return {
    name: 'http',
    http: () => http.get(),
    async start() {
      http.set(await createHttp(opts))
    },
    stop: () => http.peek()?.close(),
  }
}
