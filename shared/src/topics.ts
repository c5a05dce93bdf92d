// Every MQTT topic, built and parsed here and nowhere else.
// cabinets/{id}/up/...   written by the cabinet, read by the fleet server
// cabinets/{id}/down/... written by the fleet server, read by the cabinet
// The up/down split lets a plain broker ACL (Mosquitto `pattern write
// cabinets/%u/up/#`, `pattern read cabinets/%u/down/#`) confine each cabinet.

export const UP_KINDS = ['sales', 'heartbeat', 'presence', 'events', 'telemetry', 'stock'] as const
export const DOWN_KINDS = ['replies', 'catalog', 'commands'] as const
export type UpKind = (typeof UP_KINDS)[number]
export type DownKind = (typeof DOWN_KINDS)[number]

const ROOT = 'cabinets'

export const topics = {
  sales: (cabinetId: string) => `${ROOT}/${cabinetId}/up/sales`,
  heartbeat: (cabinetId: string) => `${ROOT}/${cabinetId}/up/heartbeat`,
  presence: (cabinetId: string) => `${ROOT}/${cabinetId}/up/presence`,
  events: (cabinetId: string) => `${ROOT}/${cabinetId}/up/events`,
  /** Periodic readings: temperature, door, faults, disk, outbox (issue 16 §4). */
  telemetry: (cabinetId: string) => `${ROOT}/${cabinetId}/up/telemetry`,
  /** The cabinet's stock by slot after sales and restocks (issue 16 §3). */
  stock: (cabinetId: string) => `${ROOT}/${cabinetId}/up/stock`,
  replies: (cabinetId: string) => `${ROOT}/${cabinetId}/down/replies`,
  catalog: (cabinetId: string) => `${ROOT}/${cabinetId}/down/catalog`,
  commands: (cabinetId: string) => `${ROOT}/${cabinetId}/down/commands`,
  /** What the fleet server subscribes to on an external broker. */
  allUp: `${ROOT}/+/up/#`,
  /** One up kind of every cabinet (a NATS cluster's streams and subscriptions, issue 14). */
  allUpOf: (kind: UpKind) => `${ROOT}/+/up/${kind}`,
  /** The prefix a cabinet may publish under. */
  upPrefix: (cabinetId: string) => `${ROOT}/${cabinetId}/up/`,
  downPrefix: (cabinetId: string) => `${ROOT}/${cabinetId}/down/`,
} as const

/**
 * topic.startsWith(topics.upPrefix(cabinetId)) without building the prefix:
 * asked of every message a cabinet publishes.
 */
export function isUpTopicOf(topic: string, cabinetId: string): boolean {
  return topic.startsWith(ROOT) && topic.charCodeAt(ROOT.length) === 0x2f && topic.startsWith(cabinetId, ROOT.length + 1) && topic.startsWith('/up/', ROOT.length + 1 + cabinetId.length)
}

export type ParsedTopic =
  | { cabinetId: string; direction: 'up'; kind: UpKind }
  | { cabinetId: string; direction: 'down'; kind: DownKind }

/** Parses a concrete topic (no wildcards); null for anything that is not ours. */
export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/')
  if (parts.length !== 4 || parts[0] !== ROOT) return null
  const [, cabinetId, direction, kind] = parts as [string, string, string, string]
  if (!cabinetId || cabinetId.includes('+') || cabinetId.includes('#')) return null
  if (direction === 'up' && (UP_KINDS as readonly string[]).includes(kind)) return { cabinetId, direction, kind: kind as UpKind }
  if (direction === 'down' && (DOWN_KINDS as readonly string[]).includes(kind)) return { cabinetId, direction, kind: kind as DownKind }
  return null
}

/** True when a topic filter contains MQTT wildcards or addresses $SYS-style system topics. */
export function isWildcardOrSystem(filter: string): boolean {
  return filter.includes('+') || filter.includes('#') || filter.startsWith('$')
}
