// /api/v1/sales/flags: sale flags within the caller's scope; resolving one
// (admin, or the cabinet's county) releases its periods to forwarding.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { ListSaleFlagsQuery, ResolveSaleFlagBody, ResolveSaleFlagReply, SaleFlagIdParams, SaleFlagList } from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { SaleFlagService } from './flags.js'

export const saleFlagRoutes = (flags: SaleFlagService): FastifyPluginAsync =>
  async function saleFlagsPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['sales']
    app.get('/sales/flags', {
      schema: { tags, summary: 'Flagged sales (SALE_ID_REUSED) within the caller’s scope, newest first', querystring: ListSaleFlagsQuery, response: { 200: SaleFlagList, ...errorResponses } },
    }, async (req) => flags.list(principalOf(req), req.query))
    app.post('/sales/flags/:id/resolve', {
      schema: {
        tags,
        summary: 'Resolve a sale flag (admin or the cabinet’s county); its periods are judged for forwarding again',
        params: SaleFlagIdParams,
        body: ResolveSaleFlagBody,
        response: { 200: ResolveSaleFlagReply, ...errorResponses },
      },
    }, async (req) => ({ flag: await flags.resolve(principalOf(req), req.params.id, req.body) }))
  }
