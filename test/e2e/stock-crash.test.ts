// Stock through sales, restocks and a SIGKILL (issue 16 §3): a real agent
// process (node --import tsx, as npm run edge-agent) against a real fleet.
// Sales stream in three at a time and the agent is killed while some are in
// flight; the controller retries the unanswered ones with their saleId after
// the restart (each is recorded once). Every slot must then hold
// start + restocked − sold (clamped at 0, the rest counted as oversold), and
// the server's stock must equal the agent's once it reconnects.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { CabinetStockReply } from '../../shared/src/index.js'
import { api, provision, startFleet, tempDir } from '../helpers/fleet.js'
import { aUscc } from '../fleet-server/certification.fixtures.js'

const ROOT = join(import.meta.dirname, '..', '..')
const MAIN = join(ROOT, 'edge-agent', 'src', 'main.ts')

async function spawnAgent(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'ignore'] })
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const exited = once(child, 'exit')
  for await (const line of createInterface({ input: child.stdout })) {
    const parsed = JSON.parse(line) as { event?: string; api?: number }
    if (parsed.event === 'ready') return { child, exited, port: parsed.api! }
  }
  throw new Error('agent exited before its ready line')
}

type Slot = 'A1' | 'A2' | 'B1'
const SKU: Record<Slot, string> = { A1: 'DY-RICE', A2: 'DY-RICE', B1: 'DY-OIL' }
interface PlannedSale { saleId: string; slot: Slot; qty: number; status: number | null }

/** A1 and A2 sales name their slot; B1's (the only OIL slot) name none, so the agent must find it. */
const body = (s: PlannedSale) => ({
  saleId: s.saleId,
  items: [{ sku: SKU[s.slot], qty: s.qty, unitPriceFen: 1_000, ...(s.slot !== 'B1' && { slot: s.slot }) }],
  payment: 'wechat',
})

async function post(port: number, s: PlannedSale): Promise<void> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/sales`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(s)) })
    s.status = r.status
  } catch {
    s.status = null // the agent died before answering: unknown whether it was recorded
  }
}

describe('stock through a SIGKILL', () => {
  it('every slot holds start + restocked − sold (clamped, oversold counted), and the server agrees after reconnect', async () => {
    const fleet = await startFleet()
    expect((await api(fleet, 'POST', '/api/v1/suppliers', { uscc: aUscc(1), name: '定远县合作社' })).status).toBe(201)
    for (const sku of ['DY-RICE', 'DY-OIL']) expect((await api(fleet, 'POST', '/api/v1/products', { sku, name: sku, supplierUscc: aUscc(1), priceFen: 1_000 })).status).toBe(201)
    const cab = await provision(fleet, { countyCode: '341125', operator: 'dy-coop' })
    const dataDir = await tempDir('agent-')
    const args = ['--cabinet', cab.cabinetId, '--data', dataDir, '--server', fleet.mqttUrl, '--username', cab.mqtt.username, '--password', cab.mqtt.password, '--api-port', '0']
    let agent = await spawnAgent(args)
    const agentStock = async () => (await (await fetch(`http://127.0.0.1:${agent.port}/stock`)).json()) as { slots: Array<{ slot: Slot; qty: number; oversold: number }> }
    const bySlot = (slots: Array<{ slot: string; qty: number; oversold: number }>) => Object.fromEntries(slots.map((s) => [s.slot, [s.qty, s.oversold]]))

    // The planogram through the API reaches the agent.
    const put = await fleet.http.inject({
      method: 'PUT', url: `/api/v1/cabinets/${cab.cabinetId}/planogram`, headers: { authorization: `Bearer ${fleet.adminToken}` },
      payload: { slots: [{ slot: 'A1', sku: 'DY-RICE', capacity: 30, par: 20 }, { slot: 'A2', sku: 'DY-RICE', capacity: 30, par: 20 }, { slot: 'B1', sku: 'DY-OIL', capacity: 12, par: 10 }] },
    })
    expect(put.statusCode, put.body).toBe(200)
    await expect.poll(async () => (await agentStock()).slots.length, { timeout: 15_000 }).toBe(3)

    // The model: per slot, units available and units short, phase by phase (within a phase only sales, so order does not matter).
    const model: Record<Slot, { qty: number; oversold: number }> = { A1: { qty: 0, oversold: 0 }, A2: { qty: 0, oversold: 0 }, B1: { qty: 0, oversold: 0 } }
    const restocked = (add: Partial<Record<Slot, number>>) => {
      for (const [slot, n] of Object.entries(add) as Array<[Slot, number]>) model[slot].qty = Math.min(slot === 'B1' ? 12 : 30, model[slot].qty + n)
    }
    const sold = (sales: readonly PlannedSale[]) => {
      for (const slot of ['A1', 'A2', 'B1'] as const) {
        const units = sales.filter((s) => s.slot === slot).reduce((t, s) => t + s.qty, 0)
        const take = Math.min(units, model[slot].qty)
        model[slot].qty -= take
        model[slot].oversold += units - take
      }
    }
    const plan = (n: number, seed: number): PlannedSale[] =>
      Array.from({ length: n }, (_, i) => ({ saleId: randomUUID(), slot: (['A1', 'A2', 'B1'] as const)[(i * 7 + seed) % 3]!, qty: 1 + ((i + seed) % 2), status: null }))

    // Start: a local restock.
    const start = { A1: 12, A2: 10, B1: 8 }
    expect((await fetch(`http://127.0.0.1:${agent.port}/restock`, { method: 'POST', body: JSON.stringify({ restockId: 'start', slots: Object.entries(start).map(([slot, qty]) => ({ slot, qty })) }) })).status).toBe(201)
    restocked(start)

    // Phase 1: 30 sales, three in flight at a time; SIGKILL once 12 have answered.
    const phase1 = plan(30, 1)
    const inflight = new Set<Promise<void>>()
    let answered = 0
    let killed = false
    for (const s of phase1) {
      if (killed) break
      const p = post(agent.port, s).then(() => {
        if (s.status === 201) answered++
        if (answered >= 12 && !killed) {
          killed = true
          agent.child.kill('SIGKILL')
        }
      })
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
      if (inflight.size >= 3) await Promise.race(inflight)
    }
    await Promise.all(inflight)
    await agent.exited
    expect(killed).toBe(true)
    expect(phase1.some((s) => s.status === null)).toBe(true) // some were cut off, answered or not

    // Restart on the same data; the controller retries what got no answer (same saleId), then sells the rest.
    agent = await spawnAgent(args)
    for (const s of phase1) {
      if (s.status === 201) continue
      await post(agent.port, s)
      expect([200, 201]).toContain(s.status)
    }
    sold(phase1)
    expect(bySlot((await agentStock()).slots)).toEqual({ A1: [model.A1.qty, model.A1.oversold], A2: [model.A2.qty, model.A2.oversold], B1: [model.B1.qty, model.B1.oversold] })

    // Phase 2: a restock recorded on the dashboard (a command), then sales beyond what B1 holds.
    const r = await api<{ commandId: string }>(fleet, 'POST', `/api/v1/cabinets/${cab.cabinetId}/restocks`, { slots: [{ slot: 'A1', qty: 5 }, { slot: 'B1', qty: 2 }] })
    expect(r.status).toBe(201)
    await expect.poll(async () => (await api<{ state: string }>(fleet, 'GET', `/api/v1/commands/${r.body.commandId}`)).body.state, { timeout: 15_000 }).toBe('done')
    restocked({ A1: 5, B1: 2 })
    const phase2 = [...plan(9, 2), { saleId: randomUUID(), slot: 'B1' as const, qty: 15, status: null }]
    for (const s of phase2) {
      await post(agent.port, s)
      expect(s.status).toBe(201) // never refused for stock
    }
    sold(phase2)
    const expected = { A1: [model.A1.qty, model.A1.oversold], A2: [model.A2.qty, model.A2.oversold], B1: [model.B1.qty, model.B1.oversold] }
    expect(model.B1.oversold).toBeGreaterThan(0)
    expect(bySlot((await agentStock()).slots)).toEqual(expected)
    const status = (await (await fetch(`http://127.0.0.1:${agent.port}/status`)).json()) as { lastSeq: number }
    expect(status.lastSeq).toBe(phase1.length + phase2.length) // each sale once, retries included

    // The server's view equals the agent's once its (coalesced) report arrives.
    await expect.poll(async () => bySlot((await api<CabinetStockReply>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}/stock`)).body.slots), { timeout: 15_000 }).toEqual(expected)

    // And again after another SIGKILL: on reconnect the agent reports at once.
    const before = (await api<CabinetStockReply>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}/stock`)).body.reportedAt
    agent.child.kill('SIGKILL')
    await agent.exited
    agent = await spawnAgent(args)
    expect(bySlot((await agentStock()).slots)).toEqual(expected)
    await expect.poll(async () => (await api<CabinetStockReply>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}/stock`)).body.reportedAt, { timeout: 15_000 }).not.toBe(before)
    expect(bySlot((await api<CabinetStockReply>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}/stock`)).body.slots)).toEqual(expected)
  }, 120_000)
})
