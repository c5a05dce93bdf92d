// Typed failures of the NATS identity library (#14). They are operators' and
// provisioning's errors, never an HTTP body: they stay out of shared's
// catalogue until a route exposes them.

export const NATS_IDENTITY_ERRORS = {
  /** The identity file (seeds) does not match its schema. */
  NATS_IDENTITY_INVALID: 'NATS identity file is invalid',
  /** A cabinet id NATS's MQTT bridge cannot carry in a topic. */
  NATS_CABINET_ID_UNSUPPORTED: 'cabinet id cannot be a NATS subject token',
  /** The cluster did not answer an account lookup, or answered with a JWT that is not ours. */
  NATS_ACCOUNT_LOOKUP_FAILED: 'fleet account lookup failed',
  /** The cluster did not take an account update ($SYS.REQ.CLAIMS.UPDATE). */
  NATS_CLAIMS_UPDATE_FAILED: 'account update was not accepted',
  /** A node did not answer a connection listing ($SYS CONNZ), or answered with an error. */
  NATS_CONNZ_FAILED: 'connection listing failed',
} as const

export type NatsIdentityErrorCode = keyof typeof NATS_IDENTITY_ERRORS

export class NatsIdentityError extends Error {
  constructor(
    readonly code: NatsIdentityErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
    this.name = 'NatsIdentityError'
  }
}

export function isNatsIdentityError(err: unknown, code?: NatsIdentityErrorCode): err is NatsIdentityError {
  return err instanceof NatsIdentityError && (code === undefined || err.code === code)
}
