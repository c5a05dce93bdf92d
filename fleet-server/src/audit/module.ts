// GET /api/v1/cabinets/:id/audit-export?month=YYYY-MM (issue 16 §2): for
// admins, auditors, and the cabinet's county or operator (the cabinets
// domain's visibility, as for its sales).
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { AuditExport, AuditExportQuery, CabinetIdParams } from '../../../shared/src/index.js'
import { principalOf } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { FleetModule } from '../modules.js'
import type { CabinetGuard } from '../sales/routes.js'
import { buildAuditExport, type AuditExportDeps } from './export.js'

export function auditModule(deps: AuditExportDeps & { readonly assertVisible: () => CabinetGuard }): FleetModule {
  const routes = (): FastifyPluginAsync =>
    async function auditPlugin(app) {
      app.withTypeProvider<ZodTypeProvider>().get('/cabinets/:id/audit-export', {
        schema: {
          tags: ['audit'],
          summary: "A cabinet's month of sale records, chain entry hash, public key and batch signatures, for offline verification (fleetctl audit verify)",
          params: CabinetIdParams,
          querystring: AuditExportQuery,
          response: { 200: AuditExport, ...errorResponses },
        },
      }, async (req) => {
        await deps.assertVisible()(principalOf(req), req.params.id)
        return buildAuditExport(deps, req.params.id, req.query.month)
      })
    }
  return { name: 'audit', routes, start: () => undefined, stop: () => undefined }
}
