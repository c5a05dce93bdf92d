// /api/v1/cabinets: provisioning, lifecycle, credentials, views.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import {
  CabinetIdParams,
  CabinetList,
  CabinetView,
  CreateCabinetBody,
  CreateCabinetReply,
  ListCabinetsQuery,
  PatchCabinetBody,
  PatchCabinetReply,
  RotateCredentialsReply,
} from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { CabinetService } from './service.js'

export const cabinetRoutes = (cabinets: CabinetService): FastifyPluginAsync =>
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

    app.post('/cabinets/:id/credentials', {
      schema: { tags, summary: 'Rotate the MQTT password; the old one and its session stop at once', params: CabinetIdParams, response: { 200: RotateCredentialsReply, ...errorResponses } },
    }, async (req) => cabinets.rotateCredentials(principalOf(req), req.params.id))
  }
