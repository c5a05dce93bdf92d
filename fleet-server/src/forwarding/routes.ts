// GET /api/v1/forwarding (scoped: county users see their county's cabinets,
// operators theirs, city-wide roles everything; ?receipts=true lists the
// delivered batches with their receipts) and
// POST /api/v1/forwarding/run (admin): one evaluation-and-send pass, now;
// POST /api/v1/forwarding/failed/:batchKey/retry (admin): a refused batch back to pending.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { ForwardingQuery, ForwardingReply, ForwardingRetryReply, ForwardingRunReply } from '../../../shared/src/index.js'
import { assertAdmin, cabinetScope, principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { ForwardingService } from './service.js'

export const forwardingRoutes = (svc: ForwardingService): FastifyPluginAsync =>
  async function forwardingPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['forwarding']
    app.get('/forwarding', {
      schema: {
        tags,
        summary: 'Forwarding to the national platform: sent, pending, held with reasons, failed; ?receipts=true adds the delivered batches with their receipts',
        querystring: ForwardingQuery,
        response: { 200: ForwardingReply, ...errorResponses },
      },
    }, async (req) => svc.status(cabinetScope(principalOf(req)), { receipts: req.query.receipts === true }))
    app.post('/forwarding/run', {
      schema: { tags, summary: 'Run one evaluation-and-send pass now, batches waiting to retry included; answers when it has run', response: { 200: ForwardingRunReply, ...errorResponses } },
    }, async (req) => {
      assertAdmin(principalOf(req), 'run forwarding')
      return svc.run({ forced: true })
    })
    app.post('/forwarding/failed/:batchKey/retry', {
      schema: {
        tags,
        summary: 'Put a batch the platform refused (4xx) back to pending, once its cause is fixed; recorded with who and when',
        params: z.object({ batchKey: z.string().min(1).max(200) }),
        response: { 200: ForwardingRetryReply, ...errorResponses },
      },
    }, async (req) => {
      const by = principalOf(req)
      assertAdmin(by, 'retry a failed forwarding batch')
      return svc.retryFailed(req.params.batchKey, by.username)
    })
  }
