// GET /api/v1/public/held-cabinets: public by design (no login; the /api/
// rate limit per client address applies), 404 unless the plan's policy asks.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { PublicHeldCabinets } from '../../../shared/src/index.js'
import { errorResponses } from '../http/index.js'
import type { DisclosureService } from './service.js'

export const disclosureRoutes = (disclosure: DisclosureService): FastifyPluginAsync =>
  async function disclosurePlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    app.get('/public/held-cabinets', {
      config: { isPublic: true },
      schema: {
        tags: ['public'],
        security: [],
        summary: 'Cabinets held for non-compliance in the last closed period (public disclosure, when the plan’s policy turns it on; no login)',
        response: { 200: PublicHeldCabinets, ...errorResponses },
      },
    }, async (_req, reply) => {
      // A public list changes once a period; caches may keep it briefly.
      reply.header('cache-control', 'public, max-age=60')
      return disclosure.heldCabinets()
    })
  }
