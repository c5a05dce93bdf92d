// GET /api/v1/compliance — scoped like the cabinets list: county users see
// their county, operators their cabinets, city-wide roles everything.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { ComplianceQuery, ComplianceReply } from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { ComplianceService } from './service.js'

export const complianceRoutes = (svc: ComplianceService): FastifyPluginAsync =>
  async function compliancePlugin(app) {
    app.withTypeProvider<ZodTypeProvider>().get('/compliance', {
      schema: {
        tags: ['compliance'],
        summary: 'Certified share of sales amount per cabinet over a range or period, against the threshold in force',
        querystring: ComplianceQuery,
        response: { 200: ComplianceReply, ...errorResponses },
      },
    }, async (req) => svc.query(principalOf(req), req.query))
  }
