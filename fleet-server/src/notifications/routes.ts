// /api/v1/notifications: a user's webhook subscriptions to alerts, a test
// message, and recent deliveries (issue 16 §6).
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  DeliveryList, ListDeliveriesQuery, PostSubscriptionBody, PostSubscriptionReply, SubscriptionIdParams, SubscriptionList, TestSubscriptionReply,
} from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { NotificationService } from './service.js'

export const notificationRoutes = (notifications: NotificationService): FastifyPluginAsync =>
  async function notificationsPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['notifications']
    const S = '/notifications/subscriptions'
    app.post(S, {
      schema: { tags, summary: 'Subscribe a webhook (generic JSON, 企业微信 or 钉钉 robot) to the alerts the caller may see; not auditors', body: PostSubscriptionBody, response: { 201: PostSubscriptionReply, ...errorResponses } },
    }, async (req, reply) => reply.code(201).send({ subscription: await notifications.subscribe(principalOf(req), req.body) }))
    app.get(S, {
      schema: { tags, summary: 'The caller’s subscriptions (an admin: everyone’s)', response: { 200: SubscriptionList, ...errorResponses } },
    }, async (req) => notifications.list(principalOf(req)))
    app.delete(`${S}/:id`, {
      schema: { tags, summary: 'Delete a subscription and its pending deliveries', params: SubscriptionIdParams, response: { 204: z.null(), ...errorResponses } },
    }, async (req, reply) => {
      await notifications.remove(principalOf(req), req.params.id)
      return reply.code(204).send(null)
    })
    app.post(`${S}/:id/test`, {
      schema: { tags, summary: 'Send a test message now; answers with the receiver’s verdict', params: SubscriptionIdParams, response: { 200: TestSubscriptionReply, ...errorResponses } },
    }, async (req) => notifications.test(principalOf(req), req.params.id))
    app.get('/notifications/deliveries', {
      schema: { tags, summary: 'Recent deliveries of the caller’s subscriptions (an admin: everyone’s), newest first', querystring: ListDeliveriesQuery, response: { 200: DeliveryList, ...errorResponses } },
    }, async (req) => notifications.deliveries(principalOf(req), req.query.limit))
  }
