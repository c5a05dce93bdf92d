// GET /api/v1/forwarding (scoped: county users see their county's cabinets,
// operators theirs, city-wide roles everything) and
// POST /api/v1/forwarding/run (admin): one evaluation-and-send pass, now.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { ForwardingReply, ForwardingRunReply } from '../../../shared/src/index.js'
import { assertAdmin, cabinetScope, principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { ForwardingService } from './service.js'

export const forwardingRoutes = (svc: ForwardingService): FastifyPluginAsync =>
  async function forwardingPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['forwarding']
    app.get('/forwarding', {
      schema: { tags, summary: 'Forwarding to the national platform: sent, pending, held with reasons, failed', response: { 200: ForwardingReply, ...errorResponses } },
    }, async (req) => svc.status(cabinetScope(principalOf(req))))
    app.post('/forwarding/run', {
      schema: { tags, summary: 'Run one evaluation-and-send pass now; answers when it has run', response: { 200: ForwardingRunReply, ...errorResponses } },
    }, async (req) => {
      assertAdmin(principalOf(req), 'run forwarding')
      return svc.run()
    })
  }
