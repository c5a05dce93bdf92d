// NATS cluster mode (#14): cabinet identity (operator/account/user JWTs) and
// account administration. The ingest source builds on these.
export {
  assertNatsCabinetId,
  cabinetPermissions,
  createNatsIdentity,
  createNatsIdentityFile,
  natsSubjectOf,
  NatsIdentityFile,
  parseNatsIdentityFile,
  type CabinetUser,
  type NatsIdentity,
  type NatsServerJwts,
  type ServiceUser,
} from './identity.js'
export { startNatsAccountAdmin, type NatsAccountAdmin, type NatsAccountAdminOptions, type Revocation, type RevocationTarget, type SessionListing } from './admin.js'
export { isNatsIdentityError, NATS_IDENTITY_ERRORS, NatsIdentityError, type NatsIdentityErrorCode } from './errors.js'
export { IDENTITY_FILE, natsTrustConfig, NatsSetupExists, TRUST_CONF, writeNatsSetup } from './setup.js'
