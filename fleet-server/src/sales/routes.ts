// GET /api/v1/cabinets/:id/sales — a cabinet's stored sales, for audits and
// chain verification. Visibility is the cabinets domain's call.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { CabinetIdParams, ListSalesQuery, SaleList } from '../../../shared/src/index.js'
import { principalOf, type Principal } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { SalesReader } from './service.js'

/** Resolves when the principal may see the cabinet; throws NOT_FOUND otherwise. */
export type CabinetGuard = (p: Principal, cabinetId: string) => Promise<void>

export const salesRoutes = (sales: SalesReader, assertVisible: CabinetGuard): FastifyPluginAsync =>
  async function salesPlugin(app) {
    app.withTypeProvider<ZodTypeProvider>().get('/cabinets/:id/sales', {
      schema: {
        tags: ['sales'],
        summary: "A cabinet's stored sales in seq order, page by page",
        params: CabinetIdParams,
        querystring: ListSalesQuery,
        response: { 200: SaleList, ...errorResponses },
      },
    }, async (req) => {
      await assertVisible(principalOf(req), req.params.id)
      return sales.list(req.params.id, req.query)
    })
  }
