// Issue 16 §2 on the server: an enrolled cabinet's batches must carry the
// signature of the key it registered. Good ones commit with their signature
// stored; a wrong or missing one (the "stolen MQTT credentials" case, played
// with a raw mqtt.js client) is refused with its code, nothing stored, and the
// cabinet flagged with one alert its county sees. FLEET_REQUIRE_SIGNED_SALES=on
// refuses keyless cabinets too. The auditor's export verifies offline with
// `npm run fleetctl -- audit verify FILE`, and fails once the file is altered.
import { spawn } from 'node:child_process'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { shanghaiDate, signBatch, verifyAuditExport, type AuditExport, type Sale, type SaleBatchMsg } from '../../shared/src/index.js'
import { api, connectCabinet, provision, startFleet, tempDir, type Provisioned, type TestCabinet } from '../helpers/fleet.js'
import { REPO_ROOT } from '../helpers/process.js'
import { userToken } from '../helpers/rollout.js'
import { aBatch, aChain } from '../helpers/sales.js'

const FY = '341126' // 凤阳县
const DY = '341125' // 定远县

const keyPair = () => generateKeyPairSync('ed25519')
const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString()

/** A batch as an enrolled agent sends it: signed with `key`. */
function signed(cabinetId: string, sales: readonly Sale[], key: KeyObject, overrides: Partial<SaleBatchMsg> = {}): SaleBatchMsg {
  const b = aBatch(cabinetId, sales, overrides)
  return { ...b, sig: signBatch(key, cabinetId, b.batchId, b.sales.map((s) => s.hash)) }
}

/** Enrolls `cabinetId` with a new key pair (as `edge-agent enroll` does): its MQTT login and private key. */
async function enroll(fleet: Fleet, cabinetId: string): Promise<{ cab: Provisioned; privateKey: KeyObject }> {
  const code = await api<{ code: string }>(fleet, 'POST', `/api/v1/cabinets/${cabinetId}/bootstrap-code`)
  expect(code.status).toBe(201)
  const { publicKey, privateKey } = keyPair()
  const r = await api<{ cabinetId: string; mqtt: { username: string; password: string } }>(fleet, 'POST', '/api/v1/enroll', { code: code.body.code, publicKey: spki(publicKey) }, null)
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return { cab: { cabinetId, mqtt: r.body.mqtt }, privateKey }
}

async function enrolledCabinet(fleet: Fleet): Promise<{ cab: Provisioned; privateKey: KeyObject; mqtt: TestCabinet }> {
  const created = await provision(fleet, { countyCode: FY, operator: '滁州甲运营公司', siteName: '凤阳县府城镇一号点', venueType: '商场' })
  const { cab, privateKey } = await enroll(fleet, created.cabinetId)
  return { cab, privateKey, mqtt: await connectCabinet(fleet.mqttUrl, cab) }
}

const storedSales = async (fleet: Fleet, cabinetId: string) =>
  (await api<{ sales: Array<{ seq: number }> }>(fleet, 'GET', `/api/v1/cabinets/${cabinetId}/sales`)).body.sales

const thisMonth = () => shanghaiDate(Date.now()).slice(0, 7)

async function auditExport(fleet: Fleet, cabinetId: string, token?: string) {
  return api<AuditExport>(fleet, 'GET', `/api/v1/cabinets/${cabinetId}/audit-export?month=${thisMonth()}`, undefined, token)
}

/** `npm run fleetctl -- audit verify FILE`, offline: no FLEET_URL, no FLEET_TOKEN. */
function fleetctlVerify(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env }
  delete env.FLEET_URL
  delete env.FLEET_TOKEN
  const child = spawn('npm', ['run', '--silent', 'fleetctl', '--', 'audit', 'verify', file], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })))
}

describe('signed sales', () => {
  it("an enrolled cabinet's signed batches commit and their signatures are kept with them", async () => {
    const fleet = await startFleet()
    const { cab, privateKey, mqtt } = await enrolledCabinet(fleet)
    const first = aChain(cab.cabinetId, 3)
    const second = aChain(cab.cabinetId, 2, { after: first })
    const b1 = signed(cab.cabinetId, first, privateKey)
    const b2 = signed(cab.cabinetId, second, privateKey)
    expect(await mqtt.send(b1)).toMatchObject({ status: 'committed', ackedSeq: 3 })
    expect(await mqtt.send(b2)).toMatchObject({ status: 'committed', ackedSeq: 5 })
    expect((await storedSales(fleet, cab.cabinetId)).map((s) => s.seq)).toEqual([1, 2, 3, 4, 5])

    const exp = await auditExport(fleet, cab.cabinetId)
    expect(exp.status).toBe(200)
    expect(exp.body.signatures).toEqual([
      { batchId: b1.batchId, firstSeq: 1, lastSeq: 3, sig: b1.sig },
      { batchId: b2.batchId, firstSeq: 4, lastSeq: 5, sig: b2.sig },
    ])
    expect(exp.body.records.map((r) => r.hash)).toEqual([...first, ...second].map((s) => s.hash))
    expect(verifyAuditExport(exp.body)).toMatchObject({ ok: true, records: 5, signed: 5, unsigned: 0 })
  })

  it('a batch signed with another key and an unsigned one (stolen MQTT login) are refused, nothing stored, the cabinet flagged for its county only', async () => {
    const fleet = await startFleet()
    const created = await provision(fleet, { countyCode: FY, operator: '滁州甲运营公司', siteName: '凤阳县府城镇一号点', venueType: '商场' })
    const { cab, privateKey } = await enroll(fleet, created.cabinetId)
    // Someone holding only the cabinet's MQTT login: a raw mqtt.js client, no signing key.
    const thief = await connectCabinet(fleet.mqttUrl, cab)
    const forgedSales = aChain(cab.cabinetId, 2)
    const wrongKey = await thief.send(signed(cab.cabinetId, forgedSales, keyPair().privateKey))
    expect(wrongKey).toMatchObject({ status: 'rejected', code: 'SIGNATURE_INVALID' })
    const unsigned = await thief.send(aBatch(cab.cabinetId, forgedSales))
    expect(unsigned).toMatchObject({ status: 'rejected', code: 'SIGNATURE_MISSING' })
    // A flood of forgeries costs one alert, not one per batch.
    for (let i = 0; i < 5; i++) expect(await thief.send(aBatch(cab.cabinetId, forgedSales))).toMatchObject({ code: 'SIGNATURE_MISSING' })
    // A good signature over altered content is no good either.
    const good = signed(cab.cabinetId, forgedSales, privateKey)
    const altered = { ...good, batchId: aBatch(cab.cabinetId, forgedSales).batchId }
    expect(await thief.send(altered)).toMatchObject({ status: 'rejected', code: 'SIGNATURE_INVALID' })
    expect(await storedSales(fleet, cab.cabinetId)).toEqual([])

    expect((await api(fleet, 'POST', '/api/v1/alerts/evaluate')).status).toBe(200)
    const fy = await userToken(fleet, { username: 'fy', role: 'county', countyCode: FY })
    const dy = await userToken(fleet, { username: 'dy', role: 'county', countyCode: DY })
    const op = await userToken(fleet, { username: 'op', role: 'operator', operator: '滁州甲运营公司' })
    type Alerts = { alerts: Array<{ kind: string; cabinetId: string | null; message: string; severity: string }> }
    const sigAlerts = async (token: string) => (await api<Alerts>(fleet, 'GET', '/api/v1/alerts', undefined, token)).body.alerts.filter((a) => a.kind === 'signature_invalid')
    const seen = await sigAlerts(fy)
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ cabinetId: cab.cabinetId, severity: 'critical' })
    expect(seen[0]!.message).toContain('签名')
    expect(await sigAlerts(op)).toHaveLength(1)
    expect(await sigAlerts(dy)).toEqual([])

    // The real agent, with its key, carries on where the chain is.
    expect(await thief.send(signed(cab.cabinetId, forgedSales, privateKey))).toMatchObject({ status: 'committed', ackedSeq: 2 })
  })

  it('a re-enrolled cabinet must sign with its new key: the old one is refused at once', async () => {
    const fleet = await startFleet()
    const { cab, privateKey: oldKey } = await enrolledCabinet(fleet)
    const sales = aChain(cab.cabinetId, 1)
    const again = await enroll(fleet, cab.cabinetId)
    const mqtt = await connectCabinet(fleet.mqttUrl, again.cab)
    expect(await mqtt.send(signed(cab.cabinetId, sales, oldKey))).toMatchObject({ status: 'rejected', code: 'SIGNATURE_INVALID' })
    expect(await mqtt.send(signed(cab.cabinetId, sales, again.privateKey))).toMatchObject({ status: 'committed', ackedSeq: 1 })
  })

  it('keyless cabinets are accepted unsigned by default; FLEET_REQUIRE_SIGNED_SALES=on refuses them', async () => {
    const open = await startFleet()
    const a = await provision(open, { countyCode: DY })
    expect(await (await connectCabinet(open.mqttUrl, a)).send(aBatch(a.cabinetId, aChain(a.cabinetId, 1)))).toMatchObject({ status: 'committed' })

    const strict = await startFleet({ FLEET_REQUIRE_SIGNED_SALES: 'on' })
    const b = await provision(strict, { countyCode: DY })
    const mqtt = await connectCabinet(strict.mqttUrl, b)
    expect(await mqtt.send(aBatch(b.cabinetId, aChain(b.cabinetId, 1)))).toMatchObject({ status: 'rejected', code: 'SIGNATURE_MISSING' })
    expect(await storedSales(strict, b.cabinetId)).toEqual([])
    // Enrolled, it signs and is accepted.
    const { cab, privateKey, mqtt: enrolled } = await enrolledCabinet(strict)
    expect(await enrolled.send(signed(cab.cabinetId, aChain(cab.cabinetId, 1), privateKey))).toMatchObject({ status: 'committed' })
  })

  it("the month's export verifies offline with fleetctl; an altered amount or signature fails, naming the record", async () => {
    const fleet = await startFleet()
    // Sold before the cabinet enrolled (password-provisioned): unsigned, reported as such.
    const created = await provision(fleet, { countyCode: FY, operator: '滁州甲运营公司', siteName: '凤阳县府城镇一号点', venueType: '商场' })
    const before = aChain(created.cabinetId, 2)
    const provisioned = await connectCabinet(fleet.mqttUrl, created)
    expect(await provisioned.send(aBatch(created.cabinetId, before))).toMatchObject({ status: 'committed' })
    await provisioned.close()
    const { cab, privateKey } = await enroll(fleet, created.cabinetId)
    const mqtt = await connectCabinet(fleet.mqttUrl, cab)
    const after1 = aChain(cab.cabinetId, 3, { after: before })
    const after2 = aChain(cab.cabinetId, 2, { after: after1 })
    expect(await mqtt.send(signed(cab.cabinetId, after1, privateKey))).toMatchObject({ status: 'committed', ackedSeq: 5 })
    expect(await mqtt.send(signed(cab.cabinetId, after2, privateKey))).toMatchObject({ status: 'committed', ackedSeq: 7 })

    const auditor = await userToken(fleet, { username: 'aud', role: 'auditor' })
    const exp = await auditExport(fleet, cab.cabinetId, auditor)
    expect(exp.status).toBe(200)
    expect(exp.body.publicKey).toContain('BEGIN PUBLIC KEY')
    const other = await userToken(fleet, { username: 'dy', role: 'county', countyCode: DY })
    expect([403, 404]).toContain((await auditExport(fleet, cab.cabinetId, other)).status)
    expect((await api(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}/audit-export?month=2020-13`)).status).toBe(400)

    const dir = await tempDir('audit-')
    const file = join(dir, 'export.json')
    await writeFile(file, JSON.stringify(exp.body, null, 2))
    const pass = await fleetctlVerify(file)
    expect(pass.code, pass.stderr).toBe(0)
    expect(pass.stdout).toContain('通过')
    expect(pass.stdout).not.toContain('不通过')
    expect(pass.stdout).toContain('已签名 5 笔，未签名 2 笔')
    expect(pass.stdout).toContain('未签名')

    // One record's amount altered in the file.
    const amount = JSON.parse(await readFile(file, 'utf8')) as AuditExport
    const victim = amount.records.find((r) => r.seq === 4)!
    victim.lines[0]!.unitPriceFen += 100
    victim.totalFen += 100 * victim.lines[0]!.qty
    await writeFile(join(dir, 'amount.json'), JSON.stringify(amount))
    const failAmount = await fleetctlVerify(join(dir, 'amount.json'))
    expect(failAmount.code).not.toBe(0)
    expect(failAmount.stdout).toContain('不通过')
    expect(failAmount.stdout).toContain('第 4 笔')

    // One signature altered.
    const sig = JSON.parse(await readFile(file, 'utf8')) as AuditExport
    const s = sig.signatures[1]!
    const raw = Buffer.from(s.sig, 'base64')
    raw[10] = raw[10]! ^ 0xff
    s.sig = raw.toString('base64')
    await writeFile(join(dir, 'sig.json'), JSON.stringify(sig))
    const failSig = await fleetctlVerify(join(dir, 'sig.json'))
    expect(failSig.code).not.toBe(0)
    expect(failSig.stdout).toContain('不通过')
    expect(failSig.stdout).toContain(`第 ${s.firstSeq} 笔`)
    expect(failSig.stdout).toContain('签名')
  })
})
