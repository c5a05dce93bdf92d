// Which retained messages cabinets may leave in the embedded broker, and how
// much. aedes keeps every retained message in memory for good, so a cabinet
// that retained freely could grow the server without bound (issue 12, finding
// 3: 2,000 × 500 KiB took it from 222 to 1,226 MiB). Only what the protocol
// needs is kept; anything else is still delivered and ingested, just not stored.
import { topics, UP_KINDS, type UpKind } from '../../../shared/src/index.js'

export interface RetainLimits {
  /** Up/ kinds a cabinet may retain (protocol.md "Topics"). */
  readonly kinds: ReadonlySet<UpKind>
  /** Retained messages one cabinet may hold at once. */
  readonly maxMessages: number
  /** Payload bytes one cabinet's retained messages may total. */
  readonly maxBytes: number
}

export const DEFAULT_RETAIN_LIMITS: RetainLimits = Object.freeze({
  // Presence only: the agent publishes `online` retained on connect and its
  // last will is `offline` retained (edge-agent/src/sync/link.ts), so a
  // subscriber learns the state without waiting for the next change.
  kinds: new Set<UpKind>(['presence']),
  // 2 messages: presence is one topic; one spare so a second retained kind
  // can be added to the protocol without touching the cap.
  maxMessages: 2,
  // 4 KiB: a presence payload is about 80 bytes; 50x that is still nothing
  // for 19,000 cabinets (76 MiB at the very worst, ~3 MiB in practice).
  maxBytes: 4 * 1024,
})

export type RetainVerdict =
  | { readonly store: true }
  | { readonly store: false; readonly reason: 'kind_not_retained' | 'over_cabinet_cap'; readonly cabinetId: string }

export interface RetainCap {
  /**
   * Whether aedes may store this retained message, and if so accounts for it.
   * Topics outside cabinets/{id}/up/ (the server's own retained catalog) are
   * not a cabinet's and pass. An empty payload deletes [MQTT-3.3.1-10] and
   * always passes.
   */
  admit(topic: string, payloadBytes: number): RetainVerdict
  /** Retained messages currently held for cabinets (for tests and metrics). */
  held(): { messages: number; bytes: number }
}

export function createRetainCap(limits: RetainLimits = DEFAULT_RETAIN_LIMITS): RetainCap {
  // cabinet id → retained topic → payload bytes; at most maxMessages topics each.
  const byCabinet = new Map<string, Map<string, number>>()
  let messages = 0
  let bytes = 0

  const remove = (cabinetId: string, own: Map<string, number>, topic: string): void => {
    const prev = own.get(topic)
    if (prev === undefined) return
    own.delete(topic)
    messages--
    bytes -= prev
    if (own.size === 0) byCabinet.delete(cabinetId)
  }

  return {
    admit(topic, payloadBytes) {
      const t = cabinetUpTopic(topic)
      if (!t) return { store: true }
      const own = byCabinet.get(t.cabinetId)
      if (payloadBytes === 0) {
        if (own) remove(t.cabinetId, own, topic)
        return { store: true }
      }
      if (t.kind === null || !limits.kinds.has(t.kind)) return { store: false, reason: 'kind_not_retained', cabinetId: t.cabinetId }
      const prev = own?.get(topic)
      let ownBytes = 0
      for (const b of own?.values() ?? []) ownBytes += b
      const countAfter = (own?.size ?? 0) + (prev === undefined ? 1 : 0)
      const bytesAfter = ownBytes - (prev ?? 0) + payloadBytes
      if (countAfter > limits.maxMessages || bytesAfter > limits.maxBytes) {
        return { store: false, reason: 'over_cabinet_cap', cabinetId: t.cabinetId }
      }
      const map = own ?? new Map<string, number>()
      if (!own) byCabinet.set(t.cabinetId, map)
      map.set(topic, payloadBytes)
      messages += prev === undefined ? 1 : 0
      bytes += payloadBytes - (prev ?? 0)
      return { store: true }
    },
    held: () => ({ messages, bytes }),
  }
}

/**
 * The cabinet and up/ kind of a topic under cabinets/{id}/up/, where a cabinet
 * may publish anything (kind null for a topic the protocol does not name).
 */
function cabinetUpTopic(topic: string): { cabinetId: string; kind: UpKind | null } | null {
  const cabinetId = topic.split('/', 2)[1]
  if (!cabinetId || !topic.startsWith(topics.upPrefix(cabinetId))) return null
  const rest = topic.slice(topics.upPrefix(cabinetId).length)
  return { cabinetId, kind: (UP_KINDS as readonly string[]).includes(rest) ? (rest as UpKind) : null }
}
