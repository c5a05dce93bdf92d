// A cabinet's MQTT login as its broker checks it. The embedded broker and an
// external one ask this server, which checks the cabinet's secret
// (credentials.ts): the password is the secret, and ending a login is ending
// the session it opened. A NATS cluster checks logins itself (issue 14): the
// password is a bearer user JWT signed by the cluster's identity, and ending a
// login is a revocation every node enforces, so a rotation revokes and then
// issues anew rather than ending a session after the fact.
import type { MessageBus } from '../broker/index.js'

export interface CabinetLogins {
  /** Why the broker in use could not carry this cabinet id, or null: asked before the cabinet is created. */
  idProblem(cabinetId: string): string | null
  /** The MQTT password of a cabinet just provisioned with `secret`. */
  issue(cabinetId: string, secret: string): Promise<string>
  /** After `secret` replaced the old one (committed): ends the old login and its session, returns the new password. */
  rotate(cabinetId: string, secret: string): Promise<string>
  /** After retirement: ends the login and its session; none is issued again. */
  end(cabinetId: string): void
}

/** Logins through whichever bus runs (none yet, as in some tests: the secret, nothing to end). */
export function cabinetLogins(bus: () => MessageBus | null | undefined): CabinetLogins {
  return {
    idProblem: (cabinetId) => bus()?.logins?.idProblem(cabinetId) ?? null,
    async issue(cabinetId, secret) {
      const logins = bus()?.logins
      return logins ? logins.issue(cabinetId) : secret
    },
    async rotate(cabinetId, secret) {
      const b = bus()
      if (b?.logins) return b.logins.reissue(cabinetId)
      b?.disconnect(cabinetId)
      return secret
    },
    end(cabinetId) {
      bus()?.disconnect(cabinetId)
    },
  }
}
