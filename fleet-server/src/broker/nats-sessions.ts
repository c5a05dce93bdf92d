// Who holds an MQTT session on the NATS cluster, for a replica that was not
// listening when presence went by (#14): it started after the cabinets
// connected, or its connection was down while some came or went. The
// cluster's connection listing (nats/admin.ts mqttSessions) is read page by
// page, and each cabinet on it is reported found — unless a presence of its
// own arrived since the listing began: that is newer than the page and
// decides. When every node answered, the cabinets neither listed nor heard
// meanwhile are reported to hold no session (their offline presence may have
// gone by). Ids only are kept, for the length of one listing.
import type { Logger } from 'pino'
import type { SessionListing } from '../nats/index.js'

export interface SessionSweep {
  /** A presence arrived from the cabinet (any state). */
  heard(cabinetId: string): void
  /** Lists the sessions now; if a listing is running, once more after it. */
  run(): void
  /** Stops listing and waits for the running listing to end. */
  stop(): Promise<void>
}

export interface SessionSweepOptions {
  /** Lists the cluster's sessions, handing `page` a page of cabinet ids at a time. */
  readonly list: (page: (cabinetIds: readonly string[]) => void) => Promise<SessionListing>
  /** The cabinet holds a session. */
  readonly found: (cabinetId: string) => void
  /** After a complete listing: whether a cabinet holds a session (listed, or heard from meanwhile). */
  readonly listed: (holdsSession: (cabinetId: string) => boolean) => void
  readonly log: Logger
  /** After a failed listing, the next try (default 2 s: the admin connection may be reconnecting too, every 2 s). */
  readonly retryMs?: number
}

export function createSessionSweep({ list, found, listed, log, retryMs = 2_000 }: SessionSweepOptions): SessionSweep {
  /** Cabinets heard since the running listing began; null between listings. */
  let heardSince: Set<string> | null = null
  let running: Promise<void> | null = null
  let again = false
  let stopped = false
  let retry: NodeJS.Timeout | null = null

  const listOnce = async (): Promise<boolean> => {
    const heard = (heardSince = new Set())
    const held = new Set<string>()
    try {
      const { nodes, complete } = await list((page) => {
        if (stopped) return
        for (const id of page) {
          held.add(id)
          if (!heard.has(id)) found(id)
        }
      })
      if (stopped) return true
      if (complete) listed((id) => held.has(id) || heard.has(id))
      log.info({ cabinets: held.size, nodes, complete }, 'mqtt sessions listed on the nats cluster')
      return true
    } catch (err) {
      log.warn({ err, retryInMs: retryMs }, 'listing mqtt sessions on the nats cluster failed; presence alone keeps the view until the next try')
      return false
    } finally {
      heardSince = null
    }
  }

  const run = (): void => {
    if (stopped) return
    if (running) {
      again = true
      return
    }
    running = (async () => {
      let ok = true
      do {
        again = false
        ok = await listOnce()
      } while (again && !stopped)
      if (!ok && !stopped) {
        retry = setTimeout(() => {
          retry = null
          run()
        }, retryMs)
        retry.unref()
      }
    })().finally(() => (running = null))
  }

  return {
    heard(cabinetId) {
      heardSince?.add(cabinetId)
    },
    run,
    async stop() {
      stopped = true
      if (retry) clearTimeout(retry)
      await running
    },
  }
}
