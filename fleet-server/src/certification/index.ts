// Certification: the 扶贫产品目录 (suppliers, products, certificates, history)
// and the catalog published to cabinets.
export { createCertificationService, certStatus, type CertificationService, type CertifiedRange } from './service.js'
export { createCatalogStore, type CatalogStore } from './store.js'
export { createCatalogPublisher, CATALOG_CHANNEL, type CatalogPublisher } from './catalog-publisher.js'
export { certificationRoutes } from './routes.js'
export { countyCatalogFigures, type CountyCatalogFigures, type CountyCatalogSources } from './reads.js'
