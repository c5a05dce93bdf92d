// /api/v1/cabinets: provisioning, lifecycle, credentials, views.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  BootstrapCodeBody,
  BootstrapCodeReply,
  EnrollBody,
  EnrollReply,
  CabinetIdParams,
  CabinetList,
  CabinetView,
  CreateCabinetBody,
  CreateCabinetReply,
  ErrorBody,
  ImportQuery,
  ImportReply,
  ListCabinetsQuery,
  TransitionList,
  PatchCabinetBody,
  PatchCabinetReply,
  RotateCredentialsReply,
} from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { assertUtf8Charset, errorResponses } from '../http/index.js'
import type { Enrollment } from './enrollment.js'
import type { CabinetService } from './service.js'

const IMPORT_LIMIT_BYTES = 16 * 1024 * 1024 // 16 MiB: a 20,000-cabinet region with long addresses

export const cabinetRoutes = (cabinets: CabinetService, enrollment: Enrollment): FastifyPluginAsync =>
  async function cabinetsPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['cabinets']

    app.post('/cabinets', {
      schema: { tags, summary: 'Provision a cabinet and issue its MQTT credentials', body: CreateCabinetBody, response: { 201: CreateCabinetReply, ...errorResponses } },
    }, async (req, reply) => reply.code(201).send(await cabinets.create(principalOf(req), req.body)))

    app.get('/cabinets', {
      schema: { tags, summary: 'Cabinets within the caller’s scope', querystring: ListCabinetsQuery, response: { 200: CabinetList, ...errorResponses } },
    }, async (req) => cabinets.list(principalOf(req), req.query))

    app.get('/cabinets/:id', {
      schema: { tags, summary: 'One cabinet with its sales totals and liveness', params: CabinetIdParams, response: { 200: CabinetView, ...errorResponses } },
    }, async (req) => cabinets.get(principalOf(req), req.params.id))

    app.patch('/cabinets/:id', {
      schema: { tags, summary: 'Change status, site or venue; `retired` revokes MQTT access', params: CabinetIdParams, body: PatchCabinetBody, response: { 200: PatchCabinetReply, ...errorResponses } },
    }, async (req) => {
      const cabinet = await cabinets.patch(principalOf(req), req.params.id, req.body)
      return { ...cabinet, cabinet }
    })

    app.get('/cabinets/:id/transitions', {
      schema: { tags, summary: 'Lifecycle history: every status change with who and when', params: CabinetIdParams, response: { 200: TransitionList, ...errorResponses } },
    }, async (req) => cabinets.transitions(principalOf(req), req.params.id))

    // Placement lists arrive as CSV; 2,700 rows are ~300 KB, 20,000 ~2 MB. The
    // parser lives in this route's own scope so text/csv reaches no JSON route.
    await fastify.register(async function csvImport(scope) {
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: IMPORT_LIMIT_BYTES }, (req, body, done) => {
        try {
          assertUtf8Charset(req, 'text/csv (UTF-8; save the placement list as UTF-8)')
        } catch (err) {
          done(err as Error, undefined)
          return
        }
        done(null, body)
      })
      scope.withTypeProvider<ZodTypeProvider>().post('/cabinets/import', {
        bodyLimit: IMPORT_LIMIT_BYTES,
        schema: {
          tags,
          summary: 'Import sites and cabinets from a CSV placement list (Content-Type: text/csv); all or nothing unless partial=true',
          querystring: ImportQuery,
          body: z.string(),
          response: { 201: ImportReply, ...errorResponses, 413: ErrorBody, 415: ErrorBody },
        },
      }, async (req, reply) => reply.code(201).send(await cabinets.importCsv(principalOf(req), req.body, req.query)))
    })

    app.post('/cabinets/:id/credentials', {
      schema: { tags, summary: 'Rotate the MQTT password; the old one and its session stop at once', params: CabinetIdParams, response: { 200: RotateCredentialsReply, ...errorResponses } },
    }, async (req) => cabinets.rotateCredentials(principalOf(req), req.params.id))

    app.post('/cabinets/:id/bootstrap-code', {
      schema: { tags, summary: 'A one-time code for enrolling the cabinet’s agent (a new one supersedes the unused one)', params: CabinetIdParams, body: BootstrapCodeBody, response: { 201: BootstrapCodeReply, ...errorResponses } },
    }, async (req, reply) => {
      const issued = await enrollment.issueCode(principalOf(req), req.params.id, req.body)
      // Rendered here rather than in the browser: the dashboard then needs no QR script, and the
      // SVG (a data: image under the CSP) can carry nothing but the code.
      return reply.code(201).send({ ...issued, qrSvg: await qrSvg(issued.code) })
    })

    // No credentials: the board has only the code. Failed codes are throttled per address.
    app.post('/enroll', {
      config: { isPublic: true },
      schema: { tags, summary: 'Trade a bootstrap code for the cabinet’s MQTT credentials and register its Ed25519 key', security: [], body: EnrollBody, response: { 200: EnrollReply, ...errorResponses, 429: ErrorBody } },
    }, async (req) => enrollment.enroll(req.body, req.ip))
  }

/** The code as an SVG QR image; qrcode is loaded on the first code issued, not at startup. */
async function qrSvg(text: string): Promise<string> {
  const { toString } = await import('qrcode')
  return toString(text, { type: 'svg' })
}
