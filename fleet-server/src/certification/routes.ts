// /api/v1 suppliers, products, certificates, catalog history and the
// published catalog. Writes: admin only (ACCESS_OUT_OF_SCOPE for others),
// except registering a supplier: county officials in their county and
// operators for themselves too (issue 15).
// Reads: every authenticated role — the catalogue is public (published on
// 社会扶贫网); a cabinet's catalog state follows the cabinet's visibility.
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import {
  AsOfQuery,
  BlacklistReply,
  BlacklistSupplierBody,
  CabinetCatalogView,
  CabinetIdParams,
  CatalogHistory,
  CatalogHistoryQuery,
  CertificateList,
  CertificateView,
  CertNoParams,
  CreateCertificateBody,
  CreateProductBody,
  CreateSupplierBody,
  ListCertificatesQuery,
  PatchProductBody,
  PatchSupplierBody,
  ProductDetail,
  ProductList,
  ProductView,
  PublishedCatalogView,
  RenewCertificateBody,
  RevokeCertificateBody,
  SkuParams,
  SupplierList,
  SupplierView,
  UsccParams,
} from '../../../shared/src/index.js'
import { principalOf, type Principal } from '../access/index.js'
import { errorResponses } from '../http/index.js'
import type { CatalogPublisher } from './catalog-publisher.js'
import type { CertificationService } from './service.js'

export const certificationRoutes = (
  svc: CertificationService,
  catalog: CatalogPublisher,
  assertVisible: (p: Principal, cabinetId: string) => Promise<void>,
): FastifyPluginAsync =>
  async function certificationPlugin(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['catalog']

    app.post('/suppliers', {
      schema: { tags, summary: 'Register a supplier by 统一社会信用代码 (admin; a county official in its county; an operator for itself)', body: CreateSupplierBody, response: { 201: SupplierView, ...errorResponses } },
    }, async (req, reply) => reply.code(201).send(await svc.createSupplier(principalOf(req), req.body)))

    app.get('/suppliers', { schema: { tags, summary: 'Suppliers', response: { 200: SupplierList, ...errorResponses } } }, async () => svc.suppliers())

    app.get('/suppliers/:uscc', {
      schema: { tags, summary: 'One supplier', params: UsccParams, response: { 200: SupplierView, ...errorResponses } },
    }, async (req) => svc.supplier(req.params.uscc))

    app.patch('/suppliers/:uscc', {
      schema: { tags, summary: 'Set a supplier’s registration county or registering operator (admin; issue 15)', params: UsccParams, body: PatchSupplierBody, response: { 200: SupplierView, ...errorResponses } },
    }, async (req) => svc.patchSupplier(principalOf(req), req.params.uscc, req.body))

    app.post('/suppliers/:uscc/blacklist', {
      schema: {
        tags,
        summary: '扶贫失信黑名单: list a supplier and revoke all its certificates from effectiveFrom (admin)',
        params: UsccParams,
        body: BlacklistSupplierBody,
        response: { 200: BlacklistReply, ...errorResponses },
      },
    }, async (req) => svc.blacklist(principalOf(req), req.params.uscc, req.body))

    app.post('/products', {
      schema: { tags, summary: 'Add a product (admin)', body: CreateProductBody, response: { 201: ProductView, ...errorResponses } },
    }, async (req, reply) => reply.code(201).send(await svc.createProduct(principalOf(req), req.body)))

    app.patch('/products/:sku', {
      schema: { tags, summary: 'Change name, price, origin or category (admin); kept in history', params: SkuParams, body: PatchProductBody, response: { 200: ProductView, ...errorResponses } },
    }, async (req) => svc.patchProduct(principalOf(req), req.params.sku, req.body))

    app.get('/products', {
      schema: { tags, summary: 'Products with their certified flag on asOf (default today)', querystring: AsOfQuery, response: { 200: ProductList, ...errorResponses } },
    }, async (req) => svc.products(req.query.asOf))

    app.get('/products/:sku', {
      schema: { tags, summary: 'One product with its certificates', params: SkuParams, querystring: AsOfQuery, response: { 200: ProductDetail, ...errorResponses } },
    }, async (req) => svc.product(req.params.sku, req.query.asOf))

    app.post('/certificates', {
      schema: { tags, summary: 'Record a certificate (admin); one year by default', body: CreateCertificateBody, response: { 201: CertificateView, ...errorResponses } },
    }, async (req, reply) => reply.code(201).send(await svc.createCertificate(principalOf(req), req.body)))

    app.get('/certificates', {
      schema: { tags, summary: 'Certificates, filtered', querystring: ListCertificatesQuery, response: { 200: CertificateList, ...errorResponses } },
    }, async (req) => svc.certificates(req.query))

    app.get('/certificates/:no', {
      schema: { tags, summary: 'One certificate', params: CertNoParams, querystring: AsOfQuery, response: { 200: CertificateView, ...errorResponses } },
    }, async (req) => svc.certificate(req.params.no, req.query.asOf))

    app.post('/certificates/:no/renew', {
      schema: {
        tags,
        summary: 'Renew: a new certificate following this one, from 3 months before its expiry (admin)',
        params: CertNoParams,
        body: RenewCertificateBody,
        response: { 201: CertificateView, ...errorResponses },
      },
    }, async (req, reply) => reply.code(201).send(await svc.renewCertificate(principalOf(req), req.params.no, req.body)))

    app.post('/certificates/:no/revoke', {
      schema: {
        tags,
        summary: 'Revoke from effectiveFrom (default today; a past date corrects already forwarded periods openly) (admin)',
        params: CertNoParams,
        body: RevokeCertificateBody,
        response: { 200: CertificateView, ...errorResponses },
      },
    }, async (req) => svc.revokeCertificate(principalOf(req), req.params.no, req.body))

    app.get('/catalog/history', {
      schema: { tags, summary: 'Every catalog change, newest first', querystring: CatalogHistoryQuery, response: { 200: CatalogHistory, ...errorResponses } },
    }, async (req) => svc.history(req.query))

    app.get('/catalog', {
      schema: { tags, summary: 'The catalog published to cabinets now', response: { 200: PublishedCatalogView, ...errorResponses } },
    }, async () => catalog.current() ?? { version: 0, issuedAt: new Date(0).toISOString(), items: [] })

    app.get('/cabinets/:id/catalog', {
      schema: { tags, summary: 'Catalog version published to a cabinet and the one it reports running', params: CabinetIdParams, response: { 200: CabinetCatalogView, ...errorResponses } },
    }, async (req) => {
      await assertVisible(principalOf(req), req.params.id)
      return catalog.cabinet(req.params.id)
    })
  }
