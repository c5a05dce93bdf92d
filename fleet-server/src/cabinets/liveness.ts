// What the server knows about cabinets being alive: connected now (from the
// embedded broker's sessions, or retained presence on an external broker),
// last seen, the outbox lag their heartbeats report, the events they send, and
// how far their clocks are off (judged on heartbeats and live sale batches).
// lastSeenAt is kept in memory and written in batches every flush interval:
// 19,000 cabinets heartbeating every 30 s must not cost 630 transactions a second.
import type { Logger } from 'pino'
import { decodeMessage, EventMsg, PresenceMsg, uuidv7, type CabinetClockView, type CabinetOutboxView, type HeartbeatMsg } from '../../../shared/src/index.js'
import { CLOCK_SKEW_LIMIT_MS, isClockSkewed } from '../sales/clock-skew.js'
import { localPresence, type SharedPresence } from './presence.js'
import type { CabinetEventRow, CabinetStore, ClockJudgement } from './store.js'

export interface Liveness {
  /** Any message from the cabinet: it is alive now. */
  seen(cabinetId: string): void
  connected(cabinetId: string): void
  disconnected(cabinetId: string): void
  /** A heartbeat, decoded once by the message router (router.ts), its cabinet id checked. */
  heartbeat(cabinetId: string, hb: HeartbeatMsg): void
  /** Retained presence; decides online/offline only when the bus does not track sessions. */
  presence(cabinetId: string, payload: Buffer): void
  /**
   * The cluster lists the cabinet as holding a session (NATS, issue 14): it is
   * online though this server never heard its presence (started after it).
   */
  sessionFound(cabinetId: string): void
  /** After a complete listing of the cluster's sessions: a cabinet holding none is offline. */
  sessionsListed(holdsSession: (cabinetId: string) => boolean): void
  event(cabinetId: string, payload: Buffer): void
  /** Connected to this process or (PostgreSQL) to another live server on the same database. */
  isOnline(cabinetId: string): boolean
  /** Cabinets connected now, to any live server on the database. */
  onlineCount(): number
  /** Ids of the cabinets connected now, to any live server on the database. */
  onlineIds(): IterableIterator<string>
  /** Cabinets connected to this process only (its broker's sessions). */
  connectedHere(): number
  lastSeenAt(cabinetId: string): string | null
  outbox(cabinetId: string): CabinetOutboxView | null
  /** Outbox lag over all cabinets: sales waiting on cabinets, and the oldest wait. */
  outboxLag(): { pending: number; oldestPendingAgeS: number }
  /**
   * One reading of the cabinet's clock: server receipt minus device send time
   * of live traffic, ms. The latest reading decides (a clock set right clears
   * the flag at the next heartbeat).
   */
  clockSample(cabinetId: string, skewMs: number, source: CabinetClockView['source']): void
  clock(cabinetId: string): CabinetClockView | null
  /**
   * Cabinets whose latest clock reading is beyond the limit (CLOCK_SKEW), as
   * judged by any server on the database (issue 13: the alert runs in the
   * leading server, the cabinet may be connected to another).
   */
  skewedClocks(): Promise<Array<{ readonly cabinetId: string; readonly clock: CabinetClockView }>>
  /** Forget a retired cabinet's outbox report, so it no longer counts as lag. */
  forget(cabinetId: string): void
  flush(): Promise<void>
  close(): Promise<void>
}

interface ClockReading {
  readonly skewS: number
  readonly source: CabinetClockView['source']
  readonly judgedAtMs: number
  readonly flag: CabinetClockView['flag']
}

export interface LivenessOptions {
  readonly store: CabinetStore
  readonly tracksConnections: () => boolean
  readonly now: () => Date
  /** The same clock in ms without a Date: every message marks its cabinet seen. Default now().getTime(). */
  readonly nowMs?: () => number
  readonly log: Logger
  readonly flushMs: number
  /** Other servers' connections on a shared database (createSharedPresence); none when absent. */
  readonly presence?: SharedPresence
}

/** How long a cabinet event may wait to be written with the ones after it. */
const EVENT_BATCH_MS = 100

export function createLiveness({ store, tracksConnections, now, nowMs = () => now().getTime(), log, flushMs, presence = localPresence() }: LivenessOptions): Liveness {
  /** Connected to this process (or, with an external bus, reported online to it). */
  const online = new Set<string>()
  const lastSeenMs = new Map<string, number>()
  const dirty = new Set<string>()
  const outboxes = new Map<string, CabinetOutboxView>()
  // Readings as numbers: a live sale batch gives one per batch, on the ingest
  // path, so its ISO time is made only when a view asks for it.
  const clocks = new Map<string, ClockReading>()
  const clockView = (r: ClockReading | undefined): CabinetClockView | null =>
    r ? { skewS: r.skewS, source: r.source, judgedAt: new Date(r.judgedAtMs).toISOString(), flag: r.flag } : null
  let flushing: Promise<void> = Promise.resolve()

  const seen = (cabinetId: string): void => {
    lastSeenMs.set(cabinetId, nowMs())
    dirty.add(cabinetId)
  }

  // Cabinet events are written together, at most EVENT_BATCH_MS after the
  // first of a batch arrives: every agent start sends one, and a reconnect
  // storm of thousands of cabinets paid one fsync'd transaction each (later:
  // one per event-loop turn, still a few events each) on the thread that also
  // ingests sales. Events are acknowledged to the broker on receipt either
  // way; they are a log, and close() writes what is queued.
  let queuedEvents: CabinetEventRow[] = []
  let writingEvents: Promise<void> = Promise.resolve()
  const flushEvents = (): Promise<void> => {
    writingEvents = writingEvents.then(async () => {
      const batch = queuedEvents
      queuedEvents = []
      if (batch.length === 0) return
      try {
        const isNew = await store.insertEvents(batch)
        batch.forEach((e, i) => {
          if (!isNew[i]) return
          const serious = e.kind === 'fault' || e.kind === 'ledger_error' || e.kind === 'sync_rejected' || e.kind === 'clock_skew'
          log[serious ? 'warn' : 'info']({ cabinetId: e.cabinetId, eventId: e.eventId, kind: e.kind }, 'cabinet event')
        })
      } catch (err) {
        log.warn({ err, events: batch.length }, 'cabinet events not stored')
      }
    })
    return writingEvents
  }

  const flush = (): Promise<void> => {
    flushing = flushing.then(async () => {
      if (dirty.size === 0) return
      const entries: Array<readonly [string, string]> = []
      for (const id of dirty) entries.push([id, new Date(lastSeenMs.get(id)!).toISOString()])
      dirty.clear()
      try {
        await store.saveLastSeen(entries)
      } catch (err) {
        log.error({ err, cabinets: entries.length }, 'saving lastSeenAt failed; will retry')
        for (const [id] of entries) dirty.add(id)
      }
    })
    return flushing
  }
  const timer = setInterval(() => void flush(), flushMs)
  timer.unref()

  // Clock judgements for the database, written when a cabinet's flag changes
  // or it is first judged here (another server may have left a flag): rare,
  // so one batch per EVENT_BATCH_MS is plenty.
  let clockFlags = new Map<string, ClockJudgement>()
  let clockFlushing: Promise<void> = Promise.resolve()
  const flushClockFlags = (): Promise<void> => {
    clockFlushing = clockFlushing.then(async () => {
      if (clockFlags.size === 0) return
      const batch = clockFlags
      clockFlags = new Map()
      try {
        await store.saveClockFlags([...batch.values()])
      } catch (err) {
        log.error({ err, cabinets: batch.size }, 'storing clock judgements failed; kept for the next try')
        for (const [id, f] of batch) if (!clockFlags.has(id)) clockFlags.set(id, f)
        scheduleClockFlush(flushMs)
      }
    })
    return clockFlushing
  }
  let clockTimer: NodeJS.Timeout | null = null
  let clockClosed = false
  const scheduleClockFlush = (ms: number): void => {
    if (clockClosed) return
    clockTimer ??= setTimeout(() => {
      clockTimer = null
      void flushClockFlags()
    }, ms)
  }
  const judgeClock = (j: ClockJudgement): void => {
    clockFlags.set(j.cabinetId, j)
    scheduleClockFlush(EVENT_BATCH_MS)
  }

  const clockSample = (cabinetId: string, skewMs: number, source: CabinetClockView['source']): void => {
    const at = now()
    const skewed = isClockSkewed(skewMs)
    const before = clocks.get(cabinetId)
    const wasSkewed = before?.flag === 'CLOCK_SKEW'
    const skewS = Math.round(skewMs / 1000)
    clocks.set(cabinetId, { skewS, source, judgedAtMs: at.getTime(), flag: skewed ? 'CLOCK_SKEW' : null })
    if (before === undefined || skewed !== wasSkewed) {
      judgeClock(skewed ? { cabinetId, skewed, skewS, source, judgedAt: at.toISOString() } : { cabinetId, skewed })
    }
    if (skewed === wasSkewed) return
    if (!skewed) {
      log.info({ cabinetId, skewS, source }, 'cabinet clock back within the limit')
      return
    }
    log.warn({ cabinetId, skewS, source, limitS: CLOCK_SKEW_LIMIT_MS / 1000 }, 'cabinet clock skewed')
    // Kept in the cabinet's event log, next to the agent's own clock_skew events.
    const detail = { skewS, source, judgedBy: 'server', limitS: CLOCK_SKEW_LIMIT_MS / 1000 }
    queuedEvents.push({ eventId: uuidv7(at.getTime()), cabinetId, kind: 'clock_skew', at: at.toISOString(), detailJson: JSON.stringify(detail), receivedAt: at.toISOString() })
    if (queuedEvents.length === 1) setTimeout(() => void flushEvents(), EVENT_BATCH_MS)
  }

  return {
    seen,
    connected(cabinetId) {
      online.add(cabinetId)
      presence.up(cabinetId)
      seen(cabinetId)
      log.info({ cabinetId }, 'cabinet connected')
    },
    disconnected(cabinetId) {
      online.delete(cabinetId)
      presence.down(cabinetId)
      seen(cabinetId)
      log.info({ cabinetId }, 'cabinet disconnected')
    },
    heartbeat(cabinetId, hb) {
      const receivedAt = now()
      // Heartbeats are stamped when sent and never queued while offline (QoS 0, sent only when connected).
      clockSample(cabinetId, receivedAt.getTime() - Date.parse(hb.sentAt), 'heartbeat')
      outboxes.set(cabinetId, {
        at: receivedAt.toISOString(),
        lastSeq: hb.lastSeq,
        lastAckedSeq: hb.lastAckedSeq,
        pending: hb.pending,
        oldestPendingAgeS: hb.oldestPendingAgeS,
        agentVersion: hb.agentVersion,
      })
      log.debug({ cabinetId, pending: hb.pending }, 'heartbeat')
    },
    presence(cabinetId, payload) {
      const d = decodeMessage(PresenceMsg, payload)
      if (!d.ok || d.data.cabinetId !== cabinetId) {
        log.warn({ cabinetId, code: d.ok ? 'CABINET_MISMATCH' : d.code }, 'presence ignored')
        return
      }
      // With the embedded broker the session events are the truth; a retained
      // "online" replayed after a server restart must not override them.
      if (tracksConnections()) return
      if (d.data.state === 'online') online.add(cabinetId)
      else online.delete(cabinetId)
      log.info({ cabinetId, state: d.data.state }, 'cabinet presence')
    },
    sessionFound(cabinetId) {
      if (tracksConnections() || online.has(cabinetId)) return
      online.add(cabinetId)
      log.debug({ cabinetId }, 'cabinet session found on the cluster')
    },
    sessionsListed(holdsSession) {
      if (tracksConnections()) return
      for (const id of online) {
        if (holdsSession(id)) continue
        online.delete(id)
        log.info({ cabinetId: id }, 'cabinet holds no session on the cluster: offline')
      }
    },
    event(cabinetId, payload) {
      const d = decodeMessage(EventMsg, payload)
      if (!d.ok || d.data.cabinetId !== cabinetId) {
        log.warn({ cabinetId, code: d.ok ? 'CABINET_MISMATCH' : d.code }, 'cabinet event ignored')
        return
      }
      const e = d.data
      queuedEvents.push({ eventId: e.eventId, cabinetId, kind: e.kind, at: e.at, detailJson: JSON.stringify(e.detail), receivedAt: now().toISOString() })
      if (queuedEvents.length === 1) setTimeout(() => void flushEvents(), EVENT_BATCH_MS)
    },
    isOnline: (cabinetId) => online.has(cabinetId) || presence.others().has(cabinetId),
    onlineCount() {
      const others = presence.others()
      if (others.size === 0) return online.size
      let n = online.size
      for (const id of others) if (!online.has(id)) n++
      return n
    },
    *onlineIds() {
      yield* online
      // A cabinet moving between servers may be in both for a refresh: count it once.
      for (const id of presence.others()) if (!online.has(id)) yield id
    },
    connectedHere: () => online.size,
    lastSeenAt(cabinetId) {
      const ms = lastSeenMs.get(cabinetId)
      return ms === undefined ? null : new Date(ms).toISOString()
    },
    outbox(cabinetId) {
      const o = outboxes.get(cabinetId)
      return o ? { ...o, clock: clockView(clocks.get(cabinetId)) } : null
    },
    clockSample,
    clock: (cabinetId) => clockView(clocks.get(cabinetId)),
    async skewedClocks() {
      await flushClockFlags()
      return (await store.clockFlags()).map((f) => ({
        cabinetId: f.cabinetId,
        clock: { skewS: f.skewS, source: f.source, judgedAt: f.judgedAt, flag: 'CLOCK_SKEW' as const },
      }))
    },
    outboxLag() {
      let pending = 0
      let oldest = 0
      for (const o of outboxes.values()) {
        pending += o.pending
        if (o.oldestPendingAgeS > oldest) oldest = o.oldestPendingAgeS
      }
      return { pending, oldestPendingAgeS: oldest }
    },
    forget(cabinetId) {
      outboxes.delete(cabinetId)
      clocks.delete(cabinetId)
      // A retired cabinet's clock no longer raises an alert.
      judgeClock({ cabinetId, skewed: false })
    },
    flush,
    async close() {
      clearInterval(timer)
      if (clockTimer) clearTimeout(clockTimer)
      await flushEvents()
      // The last try: a failure now is logged, not retried on a closing database.
      clockClosed = true
      await flushClockFlags()
      await flush()
      await presence.close()
    },
  }
}
