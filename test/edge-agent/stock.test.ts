// Stock on the agent (issue 16 §3): a planogram sets the slots, each sale
// takes from them in its own transaction (never refused, shortfall counted),
// restocks add once per id, and the state goes up on up/stock with a rising rev.
import { describe, expect, it } from 'vitest'
import { StockMsg, topics, uuidv7, type RemoteCommand, type RemoteCommandMsg } from '../../shared/src/index.js'
import { startAgent, startBroker, tempDir } from './helpers.js'

const T0 = Date.parse('2026-12-01T02:00:00.000Z')

const aCommand = (command: RemoteCommand): RemoteCommandMsg => ({
  v: 1, type: 'remote-command', commandId: uuidv7(), cabinetId: 'C1',
  issuedAt: new Date(T0).toISOString(), expiresAt: new Date(T0 + 3_600_000).toISOString(), command,
})

async function online(dataDir?: string) {
  const broker = await startBroker()
  const dir = dataDir ?? (await tempDir())
  const agent = await startAgent({ serverUrl: broker.url, dataDir: dir, apiPort: 0 }, { now: () => T0 })
  await expect.poll(() => agent.status().connected).toBe(true)
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`http://127.0.0.1:${agent.apiPort}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) })
  const stock = async () => (await (await api('GET', '/stock')).json()) as { rev: number; slots: Array<{ slot: string; sku: string; qty: number; oversold: number; capacity: number; par: number }> }
  const qty = async () => Object.fromEntries((await stock()).slots.map((s) => [s.slot, [s.qty, s.oversold]]))
  const reports = () => broker.uplink.filter((u) => u.topic === topics.stock('C1')).map((u) => StockMsg.parse(u.msg))
  const command = async (c: RemoteCommand) => {
    const before = agent.commandState()
    await broker.publish(topics.commands('C1'), JSON.stringify(aCommand(c)))
    return before
  }
  return { broker, agent, dir, api, stock, qty, reports, command }
}

const planogram = (slots: Array<[string, string, number, number]>): RemoteCommand =>
  ({ kind: 'planogram', params: { slots: slots.map(([slot, sku, capacity, par]) => ({ slot, sku, capacity, par })) } })

const sell = (items: Array<{ sku: string; qty: number; slot?: string }>) => ({ items: items.map((i) => ({ ...i, unitPriceFen: 100 })), payment: 'cash' })

describe('stock on the agent', () => {
  it('planogram sets slots; sales take from the named slot or the fullest; never refused, shortfall counted as oversold', async () => {
    const a = await online()
    await a.command(planogram([['A1', 'RICE', 10, 8], ['A2', 'RICE', 10, 8], ['B1', 'OIL', 5, 4]]))
    await expect.poll(async () => (await a.stock()).slots.length).toBe(3)
    expect(await a.qty()).toEqual({ A1: [0, 0], A2: [0, 0], B1: [0, 0] })

    expect((await a.api('POST', '/restock', { restockId: 'r-1', slots: [{ slot: 'A1', qty: 3 }, { slot: 'A2', qty: 5 }] })).status).toBe(201)
    // The same id again: applied once.
    expect((await a.api('POST', '/restock', { restockId: 'r-1', slots: [{ slot: 'A1', qty: 3 }, { slot: 'A2', qty: 5 }] })).status).toBe(200)
    expect(await a.qty()).toEqual({ A1: [3, 0], A2: [5, 0], B1: [0, 0] })

    expect((await a.api('POST', '/sales', sell([{ sku: 'RICE', qty: 1, slot: 'A1' }]))).status).toBe(201)
    expect(await a.qty()).toMatchObject({ A1: [2, 0], A2: [5, 0] })
    // No slot: the fullest first, spilling into the next.
    expect((await a.api('POST', '/sales', sell([{ sku: 'RICE', qty: 6 }]))).status).toBe(201)
    expect(await a.qty()).toMatchObject({ A1: [1, 0], A2: [0, 0] })
    // More than there is: still recorded; 0 at the floor and the rest counted.
    expect((await a.api('POST', '/sales', sell([{ sku: 'RICE', qty: 4 }, { sku: 'OIL', qty: 2, slot: 'B1' }, { sku: 'UNPLANNED', qty: 1 }]))).status).toBe(201)
    expect(await a.qty()).toEqual({ A1: [0, 3], A2: [0, 0], B1: [0, 2] })
    expect(a.agent.status().lastSeq).toBe(3)

    // fill: every slot to par; over-capacity adds are clamped.
    expect((await a.api('POST', '/restock', { fill: true })).status).toBe(201)
    expect(await a.qty()).toEqual({ A1: [8, 3], A2: [8, 0], B1: [4, 2] })
    expect((await a.api('POST', '/restock', { slots: [{ slot: 'B1', qty: 50 }] })).status).toBe(201)
    expect(await a.qty()).toMatchObject({ B1: [5, 2] })

    // A new planogram: A1 keeps its sku (qty clamped to the new capacity), A2 changes sku (0), B1 gone, C1 new.
    await a.command(planogram([['A1', 'RICE', 6, 5], ['A2', 'OIL', 10, 8], ['C1', 'TEA', 4, 4]]))
    await expect.poll(() => a.qty()).toEqual({ A1: [6, 3], A2: [0, 0], C1: [0, 0] })
  })

  it('refuses a restock of an unknown slot or a bad body with 400 and changes nothing', async () => {
    const a = await online()
    await a.command(planogram([['A1', 'RICE', 10, 8]]))
    await expect.poll(async () => (await a.stock()).slots.length).toBe(1)
    const rev = (await a.stock()).rev
    for (const body of [{ slots: [{ slot: 'Z9', qty: 1 }] }, { slots: [] }, { fill: false }, { slots: [{ slot: 'A1', qty: 0 }] }, { fill: true, extra: 1 }]) {
      const r = await a.api('POST', '/restock', body)
      expect(r.status).toBe(400)
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED')
    }
    expect((await a.stock()).rev).toBe(rev)
    expect(await a.qty()).toEqual({ A1: [0, 0] })
  })

  it('a restock command applies once; reports go up on change (coalesced) and on reconnect with a rising rev; stock survives a restart', async () => {
    const a = await online()
    await a.command(planogram([['A1', 'RICE', 10, 8]]))
    const restock: RemoteCommandMsg = aCommand({ kind: 'restock', params: { restockId: 'cmd-r1', slots: [{ slot: 'A1', qty: 7 }] } })
    await expect.poll(async () => (await a.stock()).slots.length).toBe(1)
    await a.broker.publish(topics.commands('C1'), JSON.stringify(restock))
    await a.broker.publish(topics.commands('C1'), JSON.stringify({ ...restock, commandId: uuidv7() })) // same restockId, another command
    await expect.poll(() => a.qty()).toEqual({ A1: [7, 0] })
    for (let i = 0; i < 5; i++) expect((await a.api('POST', '/sales', sell([{ sku: 'RICE', qty: 1 }]))).status).toBe(201)
    const after = await a.stock()
    expect(after.slots[0]).toMatchObject({ qty: 2 })
    await expect.poll(() => a.reports().at(-1)?.rev, { timeout: 5_000 }).toBe(after.rev)
    const reports = a.reports()
    expect(reports.at(-1)!.slots).toEqual([{ slot: 'A1', sku: 'RICE', capacity: 10, par: 8, qty: 2, oversold: 0 }])
    // Coalesced: far fewer reports than changes (planogram, restock, 5 sales).
    expect(reports.length).toBeLessThan(5)
    const revs = reports.map((r) => r.rev)
    expect([...revs].sort((x, y) => x - y)).toEqual(revs)

    await a.agent.close()
    const b = await online(a.dir)
    expect(await b.qty()).toEqual({ A1: [2, 0] })
    // On connect the current state goes up at once.
    await expect.poll(() => b.reports().at(-1)?.rev).toBe(after.rev)
  })
})
