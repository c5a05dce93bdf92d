// PUT /api/v1/cabinets/:id/planogram, GET /api/v1/cabinets/:id/stock,
// POST /api/v1/cabinets/:id/restocks, GET /api/v1/restock-list?format=json|csv|xlsx[&county=].
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import {
  CabinetIdParams, CabinetStockReply, PostRestockBody, PostRestockReply, PutPlanogramBody, PutPlanogramReply, RestockList, RestockListQuery, shanghaiDate,
} from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import { CSV_CONTENT_TYPE, pickListCsv, pickListXlsx, XLSX_CONTENT_TYPE } from './render.js'
import type { StockService } from './service.js'

// File bytes pass the route's reply type this way (the 200 schema is the JSON list's), as the reports' routes do.
const file = (bytes: Buffer): RestockList => bytes as unknown as RestockList

function attachment(at: string, county: string | undefined, ext: 'csv' | 'xlsx'): string {
  const day = shanghaiDate(new Date(at))
  const ascii = `restock-list-${day}${county ? `-${county}` : ''}.${ext}`
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(`补货单-${day}${county ? `-${county}` : ''}.${ext}`)}`
}

export const stockRoutes = (stock: StockService): FastifyPluginAsync =>
  async function stockPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['stock']
    app.put('/cabinets/:id/planogram', {
      schema: {
        tags,
        summary: 'Set a cabinet’s planogram (slots with sku, capacity, par); sent to the cabinet as a planogram command',
        params: CabinetIdParams,
        body: PutPlanogramBody,
        response: { 200: PutPlanogramReply, ...errorResponses },
      },
    }, async (req) => stock.putPlanogram(principalOf(req), req.params.id, req.body.slots))
    app.get('/cabinets/:id/stock', {
      schema: { tags, summary: 'A cabinet’s stock by slot as last reported, and its planogram’s state', params: CabinetIdParams, response: { 200: CabinetStockReply, ...errorResponses } },
    }, async (req) => stock.stock(principalOf(req), req.params.id))
    app.post('/cabinets/:id/restocks', {
      schema: {
        tags,
        summary: 'Record a restock (units by slot, or fill every slot to par); sent to the cabinet as a restock command',
        params: CabinetIdParams,
        body: PostRestockBody,
        response: { 201: PostRestockReply, ...errorResponses },
      },
    }, async (req, reply) => reply.code(201).send(await stock.restock(principalOf(req), req.params.id, req.body)))
    app.get('/restock-list', {
      schema: {
        tags,
        summary: 'The restock (pick) list of the caller’s scope: slots below par by county and site, with sku totals; JSON, CSV (UTF-8 with BOM) or XLSX',
        querystring: RestockListQuery,
        response: { 200: RestockList, ...errorResponses },
      },
    }, async (req, reply) => {
      const { format, county } = req.query
      const list = await stock.restockList(principalOf(req), { ...(county !== undefined && { county }) })
      switch (format) {
        case 'json':
          return list
        case 'csv':
          return reply.type(CSV_CONTENT_TYPE).header('content-disposition', attachment(list.generatedAt, county, 'csv')).send(file(pickListCsv(list)))
        case 'xlsx':
          return reply.type(XLSX_CONTENT_TYPE).header('content-disposition', attachment(list.generatedAt, county, 'xlsx')).send(file(await pickListXlsx(list)))
      }
    })
  }
