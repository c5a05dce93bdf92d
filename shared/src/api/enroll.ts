// Deployment by bootstrap code (issue 16): an operator asks for a one-time
// code per cabinet; the cabinet's board trades it for its credentials and
// registers the Ed25519 key its agent generated.
import { z } from 'zod'
import { CabinetId } from '../domain/ids.js'

/** Default validity of a bootstrap code: a day, time to drive out and install. */
export const BOOTSTRAP_TTL_DEFAULT_S = 24 * 3600
/** Bounds: a minute (typing it in) to a week (a unit shipped with its code). */
export const BOOTSTRAP_TTL_MIN_S = 60
export const BOOTSTRAP_TTL_MAX_S = 7 * 24 * 3600

export const BootstrapCodeBody = z
  .strictObject({
    /** How long the code stays valid, seconds. */
    ttlS: z.number().int().min(BOOTSTRAP_TTL_MIN_S, `有效期至少 ${BOOTSTRAP_TTL_MIN_S} 秒`).max(BOOTSTRAP_TTL_MAX_S, `有效期至多 ${BOOTSTRAP_TTL_MAX_S} 秒（7 天）`).optional(),
  })
  // No body at all (the usual call) arrives as null.
  .nullish()
export type BootstrapCodeBody = z.infer<typeof BootstrapCodeBody>

export const BootstrapCodeReply = z.object({
  /** XXXX-XXXX-XXXX (Crockford base32, 60 random bits); shown once, the server keeps only its hash. */
  code: z.string(),
  /** ISO UTC instant. */
  expiresAt: z.string(),
  /** The code as a QR code, an SVG document (for the dashboard; the board's camera or a phone reads it). */
  qrSvg: z.string(),
})
export type BootstrapCodeReply = z.infer<typeof BootstrapCodeReply>

export const EnrollBody = z.strictObject({
  code: z.string().min(1, '引导码不能为空').max(64, '引导码过长'),
  /** The agent's Ed25519 public key, SPKI PEM. */
  publicKey: z.string().min(1, '公钥不能为空').max(4096, '公钥过长'),
})
export type EnrollBody = z.infer<typeof EnrollBody>

export const EnrollReply = z.object({
  cabinetId: CabinetId,
  mqtt: z.object({ username: z.string(), password: z.string() }),
  /** Broker URLs as cabinets dial them; empty when the server does not know them (pass --server). */
  servers: z.array(z.string()),
})
export type EnrollReply = z.infer<typeof EnrollReply>
