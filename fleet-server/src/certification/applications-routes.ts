// /api/v1/certification: the certification workflow (issue 15). Applications
// are seen within the caller's scope (county: its suppliers'; operator: the
// ones it filed; admin and auditor: all), and anything outside it is
// APPLICATION_NOT_FOUND / OBJECTION_NOT_FOUND. Steps: admin, or a county
// official at the county step; city and province steps: admin.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import {
  ApplicationDetail,
  ApplicationHistory,
  ApplicationIdParams,
  ApplicationList,
  CreateApplicationBody,
  ListApplicationsQuery,
  LodgeObjectionBody,
  ObjectionIdParams,
  ObjectionReply,
  PublicityList,
  PublicityQuery,
  PublicityRunReply,
  ResolveObjectionBody,
  ReviewApplicationBody,
} from '../../../shared/src/index.js'
import { assertAdmin, principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { ApplicationService } from './applications-service.js'

export const applicationRoutes = (svc: ApplicationService): FastifyPluginAsync =>
  async function certificationWorkflowPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['certification']

    app.post('/certification/applications', {
      schema: {
        tags,
        summary: 'File an application (new product + certificate, renewal, change) for a supplier of the caller’s county, or one the operator registered; admin: any',
        body: CreateApplicationBody,
        response: { 201: ApplicationDetail, ...errorResponses },
      },
    }, async (req, reply) => reply.code(201).send(await svc.create(principalOf(req), req.body)))

    app.get('/certification/applications', {
      schema: { tags, summary: 'Applications within the caller’s scope, newest first', querystring: ListApplicationsQuery, response: { 200: ApplicationList, ...errorResponses } },
    }, async (req) => svc.list(principalOf(req), req.query))

    app.get('/certification/applications/:id', {
      schema: { tags, summary: 'One application with its objections', params: ApplicationIdParams, response: { 200: ApplicationDetail, ...errorResponses } },
    }, async (req) => svc.get(principalOf(req), req.params.id))

    app.get('/certification/applications/:id/history', {
      schema: { tags, summary: 'Every step of an application: who, role, when (UTC), action, reason', params: ApplicationIdParams, response: { 200: ApplicationHistory, ...errorResponses } },
    }, async (req) => svc.history(principalOf(req), req.params.id))

    app.post('/certification/applications/:id/review', {
      schema: {
        tags,
        summary: 'Approve or reject (with a reason) at the current review step; the last approval starts the 公示',
        params: ApplicationIdParams,
        body: ReviewApplicationBody,
        response: { 200: ApplicationDetail, ...errorResponses },
      },
    }, async (req) => svc.review(principalOf(req), req.params.id, req.body))

    app.post('/certification/applications/:id/objections', {
      schema: { tags, summary: 'Record an objection during the 公示; the application is held until it is resolved', params: ApplicationIdParams, body: LodgeObjectionBody, response: { 201: ObjectionReply, ...errorResponses } },
    }, async (req, reply) => reply.code(201).send(await svc.lodgeObjection(principalOf(req), req.params.id, req.body)))

    app.post('/certification/objections/:id/resolve', {
      schema: {
        tags,
        summary: 'Resolve an objection: upheld rejects the application; dismissed resumes the 公示, which ends as scheduled',
        params: ObjectionIdParams,
        body: ResolveObjectionBody,
        response: { 200: ObjectionReply, ...errorResponses },
      },
    }, async (req) => svc.resolveObjection(principalOf(req), req.params.id, req.body))

    app.get('/certification/publicity', {
      schema: { tags, summary: 'The public notice (公示) now: applications in publicity or held by an objection (a county official: its county’s)', querystring: PublicityQuery, response: { 200: PublicityList, ...errorResponses } },
    }, async (req) => svc.publicity(principalOf(req), req.query))

    app.post('/certification/publicity/run', {
      schema: { tags, summary: 'Make the applications whose 公示 has ended effective now (admin; also runs hourly)', response: { 200: PublicityRunReply, ...errorResponses } },
    }, async (req) => {
      assertAdmin(principalOf(req), 'run the publicity pass')
      return svc.runDue()
    })
  }
