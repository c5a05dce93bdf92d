// A tampered ledger judged (issue 16 §4): ingest marks a cabinet's chain
// `tampered` when a resent sale differs from the committed one (the stored
// sale stays as first committed). That holds the cabinet's forwarding and
// raises ledger_tampered until an official — the city administrator or the
// cabinet's county, as for sale flags — has looked and clears it with a note.
// Every review is kept (tamper_reviews: who, when, why, what it cleared); a
// later tampering marks the chain again from scratch.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { AppError, CabinetIdParams, labelZh, ResolveTamperBody, ResolveTamperReply } from '../../../shared/src/index.js'
import { outOfScope, principalOf, type Principal } from '../access/index.js'
import type { FleetDb } from '../db/database.js'
import { errorResponses } from '../http/index.js'
import type { CabinetGuard } from './routes.js'

export interface TamperReview {
  resolve(by: Principal, cabinetId: string, body: ResolveTamperBody): Promise<ResolveTamperReply>
}

export function createTamperReview(deps: { db: FleetDb; assertVisible: CabinetGuard; now: () => Date; log: Logger }): TamperReview {
  const { db, log } = deps
  return {
    async resolve(by, cabinetId, body) {
      await deps.assertVisible(by, cabinetId)
      if (by.role !== 'admin' && by.role !== 'county') {
        throw outOfScope(`only an admin or the cabinet's county may clear a tampered ledger; you are ${by.role}`, `仅市级管理员或专柜所在县区可以处理账本篡改标记，当前角色为${labelZh('role', by.role)}`)
      }
      const at = deps.now().toISOString()
      const cleared = await db.transaction(async (tx) => {
        const row = await tx.selectFrom('cabinet_sales').select(['tampered_at', 'tampered_count']).where('cabinet_id', '=', cabinetId).where('chain_status', '=', 'tampered').executeTakeFirst()
        if (!row) return null
        // Conditional: of two officials clearing at once, one wins.
        const n = await tx.updateTable('cabinet_sales').set({ chain_status: 'ok', tampered_at: null }).where('cabinet_id', '=', cabinetId).where('chain_status', '=', 'tampered').executeTakeFirst()
        if (Number(n.numUpdatedRows) === 0) return null
        const tamperedCount = Number(row.tampered_count)
        await tx.insertInto('tamper_reviews').values({ cabinet_id: cabinetId, tampered_at: row.tampered_at, tampered_count: tamperedCount, reviewed_at: at, reviewed_by: by.username, note: body.note }).execute()
        return { tamperedCount }
      })
      if (!cleared) throw new AppError('CHAIN_NOT_TAMPERED', `cabinet ${cabinetId}'s ledger is not flagged tampered`, 409, { cabinetId }, `专柜“${cabinetId}”`)
      log.info({ cabinetId, by: by.username, tamperedCount: cleared.tamperedCount }, 'tampered ledger cleared by an official')
      return { cabinetId, chainStatus: 'ok', tamperedCount: cleared.tamperedCount, reviewedAt: at, reviewedBy: by.username, note: body.note }
    },
  }
}

export const tamperRoutes = (review: TamperReview): FastifyPluginAsync =>
  async function tamperPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    app.post('/cabinets/:id/tamper/resolve', {
      schema: {
        tags: ['sales'],
        summary: 'Clear a cabinet’s tampered-ledger flag after review (admin or the cabinet’s county); forwarding judges it again and ledger_tampered clears',
        params: CabinetIdParams,
        body: ResolveTamperBody,
        response: { 200: ResolveTamperReply, ...errorResponses },
      },
    }, async (req) => review.resolve(principalOf(req), req.params.id, req.body))
  }
