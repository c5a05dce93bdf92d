// POST /api/v1/admin/backups (admin): take an online backup now; answers with
// its file name once it is verified and durable. GET /api/v1/admin/backups
// lists them; GET /api/v1/admin/backups/:name downloads one (fleetctl db backup).
import { createReadStream } from 'node:fs'
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { assertAdmin, principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { BackupService } from './service.js'

const BackupReply = z.object({ name: z.string(), bytes: z.number().int(), takenAt: z.string() })

export const backupRoutes = (svc: BackupService): FastifyPluginAsync =>
  async function backupPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['backups']
    app.post('/admin/backups', {
      schema: { tags, summary: 'Take an online backup of the database into the server\'s backup directory', response: { 201: BackupReply, ...errorResponses } },
    }, async (req, reply) => {
      assertAdmin(principalOf(req), 'take a backup')
      const f = await svc.runOnce('api')
      return reply.code(201).send({ name: f.name, bytes: f.bytes, takenAt: f.takenAt })
    })
    app.get('/admin/backups', {
      schema: { tags, summary: 'Backups the server keeps, newest first', response: { 200: z.object({ backups: z.array(z.string()) }), ...errorResponses } },
    }, async (req) => {
      assertAdmin(principalOf(req), 'list backups')
      return { backups: await svc.list() }
    })
    app.get('/admin/backups/:name', {
      schema: { tags, summary: 'Download one backup (an SQLite database file)', params: z.object({ name: z.string().min(1).max(100) }) },
    }, async (req, reply) => {
      assertAdmin(principalOf(req), 'download a backup')
      const path = await svc.pathOf(req.params.name)
      return reply
        .type('application/vnd.sqlite3')
        .header('content-disposition', `attachment; filename="${req.params.name}"`)
        .send(createReadStream(path))
    })
  }
