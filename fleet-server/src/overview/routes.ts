// GET /api/v1/overview: the home page's figures, scoped to the caller.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { OverviewQuery, OverviewReply } from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { OverviewService } from './service.js'

export const overviewRoutes = (svc: OverviewService): FastifyPluginAsync =>
  async function overviewPlugin(app) {
    app.withTypeProvider<ZodTypeProvider>().get('/overview', {
      schema: {
        tags: ['overview'],
        summary: 'Home figures for the caller: sales, certified share against the threshold, targets, forwarding, rollout',
        querystring: OverviewQuery,
        response: { 200: OverviewReply, ...errorResponses },
      },
    }, async (req) => svc.overview(principalOf(req), req.query))
  }
