// POST /api/v1/reports, GET /api/v1/reports, GET /api/v1/reports/:id?format=json|csv|xlsx.
// Scope rules live in the service; the CSV and XLSX files are rendered from
// the stored JSON document on every download, so all formats say the same.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import {
  CreateReportBody,
  CreateReportReply,
  GetReportQuery,
  labelZh,
  ListReportsQuery,
  REPORT_FORMATS,
  ReportDocument,
  ReportIdParams,
  ReportList,
  type ReportFormat,
} from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import { formatInvalid } from './errors.js'
import { CSV_CONTENT_TYPE, renderCsv } from './render-csv.js'
import { renderXlsx, XLSX_CONTENT_TYPE } from './render-xlsx.js'
import type { ReportService } from './service.js'

/** attachment; an ASCII filename for old clients and the Chinese one (RFC 6266 / 5987) for the rest. */
export function attachment(doc: ReportDocument, ext: 'csv' | 'xlsx'): string {
  const slug = doc.scope.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')
  const ascii = `fupin-report-${doc.kind}-${doc.period}-${slug || 'scope'}.${ext}`
  const zh = `${doc.scopeName}${labelZh('reportKind', doc.kind)}-${doc.period}.${ext}`
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(zh)}`
}

// Fastify sends a Buffer as it is: the 200 schema (the JSON document) applies
// to the JSON answer only, so file bytes pass the route's reply type this way.
const file = (bytes: Buffer): ReportDocument => bytes as unknown as ReportDocument

export const reportRoutes = (reports: ReportService): FastifyPluginAsync =>
  async function reportsPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['reports']
    app.post('/reports', {
      schema: {
        tags,
        summary: 'Take a weekly, monthly or quarterly report (a stored snapshot) for the city, a county, or the caller’s own scope',
        body: CreateReportBody,
        response: { 201: CreateReportReply, ...errorResponses },
      },
    }, async (req, reply) => reply.code(201).send(await reports.create(principalOf(req), req.body)))

    app.get('/reports', {
      schema: { tags, summary: 'Reports within the caller’s scope, newest first', querystring: ListReportsQuery, response: { 200: ReportList, ...errorResponses } },
    }, async (req) => ({ reports: await reports.list(principalOf(req), req.query) }))

    app.get('/reports/:id', {
      schema: {
        tags,
        summary: 'One report: JSON (default; the document stored at creation), CSV (UTF-8 with BOM) or XLSX',
        params: ReportIdParams,
        querystring: GetReportQuery,
        response: { 200: ReportDocument, ...errorResponses },
      },
    }, async (req, reply) => {
      const format = req.query.format ?? 'json'
      if (!(REPORT_FORMATS as readonly string[]).includes(format)) throw formatInvalid(format, REPORT_FORMATS)
      const doc = await reports.get(principalOf(req), req.params.id)
      switch (format as ReportFormat) {
        case 'json':
          return doc
        case 'csv':
          return reply.type(CSV_CONTENT_TYPE).header('content-disposition', attachment(doc, 'csv')).send(file(renderCsv(doc)))
        case 'xlsx':
          return reply.type(XLSX_CONTENT_TYPE).header('content-disposition', attachment(doc, 'xlsx')).send(file(await renderXlsx(doc)))
      }
    })
  }
