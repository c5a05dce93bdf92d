// The NATS identity file's shape (#14), apart from the code that signs with
// it: the config reads and checks the file at startup, and that must not load
// the NATS client libraries on a server that runs the embedded broker.
import { z } from 'zod'
import { NatsIdentityError } from './errors.js'

const seedOf = (role: string, label: string) =>
  z.string().regex(new RegExp(`^S${role}[A-Z2-7]{56}$`), `${label}: an nkey seed starting S${role} (58 base32 characters)`)

/** What the caller keeps (a file beside the data dir, mode 0600): the three seeds and names. */
export const NatsIdentityFile = z.strictObject({
  v: z.literal(1),
  operator: z.strictObject({ name: z.string().min(1), seed: seedOf('O', 'operator seed') }),
  systemAccount: z.strictObject({ name: z.string().min(1), seed: seedOf('A', 'system account seed') }),
  fleetAccount: z.strictObject({ name: z.string().min(1), seed: seedOf('A', 'fleet account seed') }),
})
export type NatsIdentityFile = z.infer<typeof NatsIdentityFile>

/** Validates an identity file's parsed JSON; throws NATS_IDENTITY_INVALID naming the field. */
export function parseNatsIdentityFile(json: unknown): NatsIdentityFile {
  const r = NatsIdentityFile.safeParse(json)
  if (!r.success) throw new NatsIdentityError('NATS_IDENTITY_INVALID', `invalid NATS identity file:\n${z.prettifyError(r.error)}`)
  return r.data
}
