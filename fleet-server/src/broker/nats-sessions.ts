// Who holds an MQTT session on the NATS cluster, for a replica that was not
// listening when their online presence went by (#14): it started after them,
// or its connection was down. The cluster's connection listing (nats/admin.ts
// mqttSessions) is read page by page, and each cabinet on it is reported
// found — unless a presence of its own arrived since the listing began: that
// is newer than the page and decides. Only ids are held, one page at a time.
import type { Logger } from 'pino'

export interface SessionSweep {
  /** A presence arrived from the cabinet (any state). */
  heard(cabinetId: string): void
  /** Lists the sessions now; if a listing is running, once more after it. */
  run(): void
  /** Stops listing and waits for the running listing to end. */
  stop(): Promise<void>
}

export interface SessionSweepOptions {
  /** The cluster's sessions, a page of cabinet ids at a time. */
  readonly list: () => AsyncIterable<readonly string[]>
  readonly found: (cabinetId: string) => void
  readonly log: Logger
  /** After a failed listing, the next try (default 2 s: the admin connection may be reconnecting too, every 2 s). */
  readonly retryMs?: number
}

export function createSessionSweep({ list, found, log, retryMs = 2_000 }: SessionSweepOptions): SessionSweep {
  /** Cabinets heard since the running listing began; null between listings. */
  let heardSince: Set<string> | null = null
  let running: Promise<void> | null = null
  let again = false
  let stopped = false
  let retry: NodeJS.Timeout | null = null

  const listOnce = async (): Promise<boolean> => {
    const heard = (heardSince = new Set())
    let cabinets = 0
    try {
      for await (const page of list()) {
        if (stopped) return true
        for (const id of page) {
          if (heard.has(id)) continue
          found(id)
          cabinets++
        }
      }
      log.info({ cabinets }, 'mqtt sessions listed on the nats cluster')
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
