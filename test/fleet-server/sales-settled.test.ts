// A batch taken from a work queue (NATS JetStream, issue 14) is acked there
// only once the cabinet has its answer, and handed back for redelivery when the
// server gave it up unanswered: the ingest's `settled` callback says which,
// once per batch, after the reply. On SQLite and on PostgreSQL.
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openFleetDb, type FleetDb } from '../../fleet-server/src/db/database.js'
import { tempDir } from '../helpers/fleet.js'
import { ingestOn } from '../helpers/ingest.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { sqlRows, sqlRun } from '../helpers/test-db.js'

const log = pino({ level: 'silent' })
const at = '2020-10-01T01:00:00.000Z'
const CABINET = 'C-1'

describe('ingest: settled callbacks for a work queue', () => {
  let server: Postgres
  beforeAll(async () => {
    server = await startPostgres()
  })
  afterAll(() => server?.close())

  for (const dialect of ['sqlite', 'postgres'] as const) {
    it(`on ${dialect}: true after the reply (committed, replayed or rejected) or for an unknown cabinet, false when the tick fails or the ingest is closed`, async () => {
      const db: FleetDb = dialect === 'sqlite'
        ? await openFleetDb({ dialect, dataDir: await tempDir() }, log)
        : await openFleetDb({ dialect, url: await server.newDatabase('settled') }, log)
      try {
        await sqlRun(db, `INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
                          VALUES (?, '341125', NULL, 'operating', 'x', ?, ?, ?)`, CABINET, at, at, at)
        let fail = true
        const events: string[] = []
        const ingest = await ingestOn(db, {
          tickWriters: [
            async () => {
              if (fail) throw new Error('the database refused the tick')
            },
          ],
          publish: (_topic, payload) => void events.push(`reply ${(JSON.parse(payload.toString()) as { status: string }).status}`),
        })
        const good = Buffer.from(JSON.stringify(aBatch(CABINET, aChain(CABINET, 2))))
        const bad = Buffer.from('{"not":"a batch"')
        const submit = (name: string, payload: Buffer) =>
          ingest.submit(CABINET, payload, () => {}, (answered) => events.push(`${name} ${answered ? 'answered' : 'again'}`))

        // The tick's transaction fails: nothing answered, both handed back (the reject was never sent either).
        submit('good', good)
        submit('bad', bad)
        await ingest.idle()
        expect(events).toEqual(['good again', 'bad again'])

        // Delivered again: each settled once, right after its own reply.
        fail = false
        events.length = 0
        submit('good', good)
        submit('bad', bad)
        await ingest.idle()
        expect(events).toEqual(['reply committed', 'good answered', 'reply rejected', 'bad answered'])
        expect(await sqlRows(db, 'SELECT seq FROM sales ORDER BY seq')).toEqual([{ seq: 1 }, { seq: 2 }])

        // A duplicate delivery (JetStream redelivers what a dead replica held): a replay, answered.
        events.length = 0
        submit('good', good)
        await ingest.idle()
        expect(events).toEqual(['reply committed', 'good answered'])

        // A cabinet the database does not know (a NATS identity outliving its row): dropped for
        // good, unanswered — delivered again it would only fail again.
        events.length = 0
        ingest.submit('C-GONE', Buffer.from(JSON.stringify(aBatch('C-GONE', aChain('C-GONE', 1)))), () => {}, (answered) => events.push(`gone ${answered ? 'answered' : 'again'}`))
        await ingest.idle()
        expect(events).toEqual(['gone answered'])

        await ingest.close()
        events.length = 0
        submit('late', good)
        expect(events).toEqual(['late again'])
      } finally {
        await db.close()
      }
    })
  }
})
