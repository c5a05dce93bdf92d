// GET /api/v1/cabinets/:id/telemetry (issue 16 §4): the 运行状态 card's data.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { CabinetIdParams, TelemetryQuery, TelemetryReply } from '../../../shared/src/index.js'
import { principalOf, type Principal } from '../access/index.js'
import { errorResponses } from '../http/index.js'

export interface TelemetryReads {
  read(by: Principal, cabinetId: string, hours: number): Promise<TelemetryReply>
}

export const telemetryRoutes = (reads: TelemetryReads): FastifyPluginAsync =>
  async function telemetryPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    app.get('/cabinets/:id/telemetry', {
      schema: {
        tags: ['telemetry'],
        summary: 'A cabinet’s latest telemetry reading and its hourly series over the last `hours` (default 24)',
        params: CabinetIdParams,
        querystring: TelemetryQuery,
        response: { 200: TelemetryReply, ...errorResponses },
      },
    }, async (req) => reads.read(principalOf(req), req.params.id, req.query.hours))
  }
