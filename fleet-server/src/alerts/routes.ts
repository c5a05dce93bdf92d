// /api/v1/alerts: list within scope, acknowledge, evaluate now (admin).
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { AckAlertReply, AlertIdParams, AlertList, EvaluateAlertsReply, ListAlertsQuery } from '../../../shared/src/index.js'
import { assertAdmin, principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { AlertService } from './service.js'

export const alertRoutes = (alerts: AlertService): FastifyPluginAsync =>
  async function alertsPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['alerts']
    app.get('/alerts', {
      schema: { tags, summary: 'Alerts within the caller’s scope, newest first', querystring: ListAlertsQuery, response: { 200: AlertList, ...errorResponses } },
    }, async (req) => alerts.list(principalOf(req), req.query))
    app.post('/alerts/:id/ack', {
      schema: { tags, summary: 'Acknowledge an alert (it stays open until its condition clears)', params: AlertIdParams, response: { 200: AckAlertReply, ...errorResponses } },
    }, async (req) => ({ alert: await alerts.ack(principalOf(req), req.params.id) }))
    app.post('/alerts/evaluate', {
      schema: { tags, summary: 'Run every alert rule now (they also run on a schedule); admin only', response: { 200: EvaluateAlertsReply, ...errorResponses } },
    }, async (req) => {
      assertAdmin(principalOf(req), 'evaluate alerts')
      return alerts.evaluate()
    })
  }
