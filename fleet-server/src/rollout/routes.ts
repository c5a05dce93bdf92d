// GET /api/v1/rollout: progress against the plan, scoped to the caller.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { RolloutReply } from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { RolloutService } from './service.js'

export const rolloutRoutes = (rollout: RolloutService): FastifyPluginAsync =>
  async function rolloutPlugin(app) {
    app.withTypeProvider<ZodTypeProvider>().get('/rollout', {
      schema: {
        tags: ['rollout'],
        summary: 'Progress per county against the plan: quota, sites assigned, installed, operating, online; milestones and projections',
        response: { 200: RolloutReply, ...errorResponses },
      },
    }, async (req) => rollout.progress(principalOf(req)))
  }
