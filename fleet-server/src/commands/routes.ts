// /api/v1/cabinets/:id/commands and /api/v1/commands/:id (issue 16 §5).
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { CabinetIdParams, CommandIdParams, CommandList, CommandView, ListCommandsQuery, PostCommandBody, PostCommandReply } from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { CommandService } from './service.js'

export const commandRoutes = (commands: CommandService): FastifyPluginAsync =>
  async function commandsPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['commands']
    app.post('/cabinets/:id/commands', {
      schema: {
        tags,
        summary: 'Send a remote command to a cabinet (admin, its county, its operator); delivered now or when it reconnects, unless it expires first',
        params: CabinetIdParams,
        body: PostCommandBody,
        response: { 201: PostCommandReply, ...errorResponses },
      },
    }, async (req, reply) => reply.code(201).send(await commands.send(principalOf(req), req.params.id, req.body)))
    app.get('/cabinets/:id/commands', {
      schema: { tags, summary: 'A cabinet’s commands, newest first', params: CabinetIdParams, querystring: ListCommandsQuery, response: { 200: CommandList, ...errorResponses } },
    }, async (req) => commands.list(principalOf(req), req.params.id, req.query.limit))
    app.get('/commands/:id', {
      schema: { tags, summary: 'One command: its state (expired once past its expiry undelivered) and the cabinet’s result', params: CommandIdParams, response: { 200: CommandView, ...errorResponses } },
    }, async (req) => commands.get(principalOf(req), req.params.id))
  }
