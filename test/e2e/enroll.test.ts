// Issue 16 §1 done-when, with real processes as the contract drives them: a
// brand-new cabinet goes from a county's site assignment to operating using
// only a bootstrap code (`npm run edge-agent -- enroll …`, then the agent
// started from DIR alone), and a reused or expired code is refused with a
// Chinese message and a non-zero exit.
import { spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it, onTestFinished } from 'vitest'
import { shanghaiDate, verifyAuditExport, type AuditExport } from '../../shared/src/index.js'
import { api, startFleet, tempDir } from '../helpers/fleet.js'
import { REPO_ROOT } from '../helpers/process.js'
import { userToken } from '../helpers/rollout.js'

function npm(args: string[]) {
  const child = spawn('npm', args, { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = new Promise<number | string>((r) => child.once('exit', (code, sig) => r(code ?? sig ?? -1)))
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, exited, out: () => stdout, err: () => stderr }
}

async function enrollCmd(code: string, httpUrl: string, dir: string) {
  const run = npm(['run', '--silent', 'edge-agent', '--', 'enroll', '--code', code, '--http', httpUrl, '--data', dir])
  return { code: await run.exited, stdout: run.out(), stderr: run.err() }
}

describe('deployment by bootstrap code', () => {
  it('site_assigned → enrolled → installed on first contact → operating, a sale goes through; reused and expired codes are refused', async () => {
    const clock = { offsetMs: 0 }
    const fleet = await startFleet({}, { now: () => new Date(Date.now() + clock.offsetMs) })
    const operator = await userToken(fleet, { username: 'op-a', role: 'operator', operator: '滁州甲运营公司' })
    // The county assigns the site to the operator company.
    const county = await userToken(fleet, { username: 'fy-official', role: 'county', countyCode: '341126' })
    const created = await api<{ cabinetId: string }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341126', operator: '滁州甲运营公司', siteName: '凤阳县府城镇一号点', venueType: '商场' }, county)
    expect(created.status).toBe(201)
    const id = created.body.cabinetId
    const cabinet = async () => (await api<{ status: string; sales: { count: number } }>(fleet, 'GET', `/api/v1/cabinets/${id}`, undefined, operator)).body
    expect((await cabinet()).status).toBe('site_assigned')

    const issued = await api<{ code: string; expiresAt: string }>(fleet, 'POST', `/api/v1/cabinets/${id}/bootstrap-code`, undefined, operator)
    expect(issued.status).toBe(201)

    const dir = await tempDir('enroll-')
    const enrolled = await enrollCmd(issued.body.code, fleet.httpUrl, dir)
    expect(enrolled.code, enrolled.stderr).toBe(0)
    expect(enrolled.stdout).toContain('登记成功')
    const creds = JSON.parse(await readFile(join(dir, 'credentials.json'), 'utf8')) as { cabinetId: string }
    expect(creds.cabinetId).toBe(id)
    expect(await readFile(join(dir, 'signing-key.pem'), 'utf8')).toContain('BEGIN PRIVATE KEY')
    expect(statSync(join(dir, 'signing-key.pem')).mode & 0o777).toBe(0o600)
    expect(statSync(join(dir, 'credentials.json')).mode & 0o777).toBe(0o600)

    // The agent from DIR alone: no cabinet id, no password on the command line.
    const agent = npm(['run', 'edge-agent', '--', '--data', dir, '--server', fleet.mqttUrl, '--api-port', '0'])
    const ready = await new Promise<{ api: number }>((resolve, reject) => {
      createInterface({ input: agent.child.stdout }).on('line', (line) => {
        if (line.startsWith('{') && (JSON.parse(line) as { event?: string }).event === 'ready') resolve(JSON.parse(line) as { api: number })
      })
      void agent.exited.then((c) => reject(new Error(`agent exited ${c} before ready: ${agent.err()}`)))
    })
    await expect.poll(async () => (await cabinet()).status, { timeout: 15_000 }).toBe('installed')
    const t = await api<{ transitions: Array<{ to: string; by: string }> }>(fleet, 'GET', `/api/v1/cabinets/${id}/transitions`, undefined, operator)
    expect(t.body.transitions.at(-1)).toMatchObject({ to: 'installed', by: 'system' })

    expect((await api(fleet, 'PATCH', `/api/v1/cabinets/${id}`, { status: 'operating' }, operator)).status).toBe(200)
    const sale = await fetch(`http://127.0.0.1:${ready.api}/sales`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ sku: 'FY-RICE', qty: 1, unitPriceFen: 3990 }], payment: 'cash' }),
    })
    expect(sale.status).toBe(201)
    await expect.poll(async () => (await cabinet()).sales.count, { timeout: 15_000 }).toBe(1)
    expect((await cabinet()).status).toBe('operating')
    // Issue 16 §2: the agent signed its batch with the key it enrolled; the server kept the signature.
    const month = shanghaiDate(Date.now()).slice(0, 7)
    const exported = await api<AuditExport>(fleet, 'GET', `/api/v1/cabinets/${id}/audit-export?month=${month}`, undefined, operator)
    expect(exported.status).toBe(200)
    expect(exported.body.signatures).toHaveLength(1)
    expect(verifyAuditExport(exported.body)).toMatchObject({ ok: true, records: 1, signed: 1, unsigned: 0 })
    agent.child.kill('SIGTERM')
    expect(await agent.exited).toBe(0)

    // The same code again, on another board: refused, in Chinese, nothing written.
    const dir2 = await tempDir('enroll-')
    const reused = await enrollCmd(issued.body.code, fleet.httpUrl, dir2)
    expect(reused.code).not.toBe(0)
    expect(reused.stderr).toContain('引导码已被使用过')
    await expect(readFile(join(dir2, 'credentials.json'))).rejects.toThrow()

    // A fresh code left past its validity.
    const late = await api<{ code: string }>(fleet, 'POST', `/api/v1/cabinets/${id}/bootstrap-code`, { ttlS: 3600 }, operator)
    clock.offsetMs = 2 * 3600_000
    const expired = await enrollCmd(late.body.code, fleet.httpUrl, dir2)
    expect(expired.code).not.toBe(0)
    expect(expired.stderr).toContain('引导码已过期')
  })
})
