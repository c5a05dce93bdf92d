// Cabinets: provisioning, credentials, lifecycle, liveness.
export { createCabinetService, type CabinetService } from './service.js'
export { createSqliteCabinetStore, type CabinetStore } from './store.js'
export { createLiveness, type Liveness } from './liveness.js'
export { cabinetRoutes } from './routes.js'
export { generateCabinetSecret, hashCabinetSecret } from './credentials.js'
