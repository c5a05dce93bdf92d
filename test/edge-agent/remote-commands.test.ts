// Remote commands on the agent (issue 16 §5) against a plain broker: only its
// own commands, never twice, never after their expiry; each kind's effect, and
// the effects that must survive a restart.
import { describe, expect, it } from 'vitest'
import { RESTART_EXIT_CODE } from '../../edge-agent/src/index.js'
import { CommandReport, topics, uuidv7, type RemoteCommand, type RemoteCommandMsg } from '../../shared/src/index.js'
import { startAgent, startBroker, tempDir, type TestBroker } from './helpers.js'

const T0 = Date.parse('2026-12-01T02:00:00.000Z')

const aCommand = (command: RemoteCommand, over: Partial<RemoteCommandMsg> = {}): RemoteCommandMsg => ({
  v: 1,
  type: 'remote-command',
  commandId: uuidv7(),
  cabinetId: 'C1',
  issuedAt: new Date(T0).toISOString(),
  expiresAt: new Date(T0 + 3_600_000).toISOString(),
  command,
  ...over,
})

/** The command reports the broker saw, in order. */
const reports = (b: TestBroker, commandId?: string) =>
  b.uplink
    .filter((u) => u.topic === topics.events('C1') && u.msg.kind === 'command')
    .map((u) => CommandReport.parse(u.msg.detail))
    .filter((r) => commandId === undefined || r.commandId === commandId)

async function online(opts: { dataDir?: string; now?: () => number } = {}) {
  const broker = await startBroker()
  const dataDir = opts.dataDir ?? (await tempDir())
  const agent = await startAgent({ serverUrl: broker.url, dataDir, apiPort: 0 }, { now: opts.now ?? (() => T0) })
  await expect.poll(() => agent.status().connected).toBe(true)
  return { broker, agent, dataDir }
}

const postSale = (port: number, body: unknown) =>
  fetch(`http://127.0.0.1:${port}/sales`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

describe('remote commands on the agent', () => {
  it('applies a price change once, reports delivered then done, and answers a resend with the stored outcome', async () => {
    const { broker, agent } = await online()
    const cmd = aCommand({ kind: 'price', params: { sku: 'FY-RICE', priceFen: 2_990 } })
    await broker.publish(topics.commands('C1'), JSON.stringify(cmd))
    await expect.poll(() => reports(broker, cmd.commandId).map((r) => r.state)).toEqual(['delivered', 'done'])
    expect(reports(broker, cmd.commandId)[1]).toMatchObject({ commandKind: 'price', sku: 'FY-RICE', priceFen: 2_990, previousFen: null })
    expect(agent.commandState().priceOverrides).toEqual({ 'FY-RICE': 2_990 })

    // A later sale without a price takes the override.
    const r = await postSale(agent.apiPort!, { items: [{ sku: 'FY-RICE', qty: 2 }], payment: 'cash' })
    expect(r.status).toBe(201)

    // The same command again (the server resends undelivered ones): not applied twice, outcome reported again.
    const other = aCommand({ kind: 'price', params: { sku: 'FY-RICE', priceFen: 1_000 } })
    await broker.publish(topics.commands('C1'), JSON.stringify(other))
    await expect.poll(() => agent.commandState().priceOverrides['FY-RICE']).toBe(1_000)
    await broker.publish(topics.commands('C1'), JSON.stringify(cmd))
    await expect.poll(() => reports(broker, cmd.commandId).map((r) => r.state)).toEqual(['delivered', 'done', 'done'])
    expect(agent.commandState().priceOverrides).toEqual({ 'FY-RICE': 1_000 })
  })

  it('ignores a command for another cabinet and one past its expiry on its own clock', async () => {
    const { broker, agent } = await online({ now: () => T0 + 2 * 3_600_000 })
    const foreign = aCommand({ kind: 'lock' }, { cabinetId: 'C2', expiresAt: new Date(T0 + 48 * 3_600_000).toISOString() })
    const late = aCommand({ kind: 'price', params: { sku: 'FY-RICE', priceFen: 1 } })
    const fresh = aCommand({ kind: 'planogram', params: { slots: [{ slot: 'A1', sku: 'FY-RICE', capacity: 10, par: 8 }] } }, { expiresAt: new Date(T0 + 3 * 3_600_000).toISOString() })
    for (const c of [foreign, late, fresh]) await broker.publish(topics.commands('C1'), JSON.stringify(c))
    await expect.poll(() => reports(broker, fresh.commandId).map((r) => r.state)).toEqual(['delivered', 'done'])
    expect(reports(broker, foreign.commandId)).toEqual([])
    expect(reports(broker, late.commandId)).toEqual([])
    expect(agent.status().isSalesLocked).toBe(false)
    expect(agent.commandState()).toMatchObject({ priceOverrides: {}, planogram: [{ slot: 'A1', sku: 'FY-RICE', capacity: 10, par: 8 }] })
  })

  it('lock never refuses a paid sale: it is recorded (201) while /status says salesLocked, across a restart, until unlock', async () => {
    const first = await online()
    const lock = aCommand({ kind: 'lock' })
    await first.broker.publish(topics.commands('C1'), JSON.stringify(lock))
    await expect.poll(() => first.agent.status().isSalesLocked).toBe(true)
    const status = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as { salesLocked: boolean; lastSeq: number }
    expect(await status(first.agent.apiPort!)).toMatchObject({ salesLocked: true, lastSeq: 0 })
    const sale = { items: [{ sku: 'FY-RICE', qty: 1, unitPriceFen: 3_990 }], payment: 'wechat' }
    const recorded = await postSale(first.agent.apiPort!, sale)
    expect(recorded.status).toBe(201)
    expect(first.agent.status().lastSeq).toBe(1)
    await first.agent.close()

    const again = await online({ dataDir: first.dataDir })
    expect(await status(again.agent.apiPort!)).toMatchObject({ salesLocked: true, lastSeq: 1 })
    expect((await postSale(again.agent.apiPort!, sale)).status).toBe(201)
    const unlock = aCommand({ kind: 'unlock' })
    await again.broker.publish(topics.commands('C1'), JSON.stringify(unlock))
    await expect.poll(() => again.agent.status().isSalesLocked).toBe(false)
    expect(await status(again.agent.apiPort!)).toMatchObject({ salesLocked: false, lastSeq: 2 })
    expect((await postSale(again.agent.apiPort!, sale)).status).toBe(201)
  })

  it('sync, catalog-refresh and restart report done; restart asks the process to exit with a restartable code', async () => {
    const { broker, agent } = await online()
    const catalog = { v: 1, type: 'catalog', version: 3, issuedAt: new Date(T0).toISOString(), items: [{ sku: 'FY-RICE', name: '凤阳大米', priceFen: 3_990, isCertified: true }] }
    await broker.publish(topics.catalog('C1'), JSON.stringify(catalog), { retain: true })
    await expect.poll(() => agent.catalog().version).toBe(3)
    const applied: number[] = []
    agent.on('catalog', (v) => applied.push(v))
    const exits: number[] = []
    agent.on('restart', (code) => exits.push(code))

    const sync = aCommand({ kind: 'sync' })
    const refresh = aCommand({ kind: 'catalog-refresh' })
    const restart = aCommand({ kind: 'restart' })
    for (const c of [sync, refresh]) await broker.publish(topics.commands('C1'), JSON.stringify(c))
    await expect.poll(() => reports(broker, refresh.commandId).at(-1)?.state).toBe('done')
    expect(reports(broker, sync.commandId).at(-1)).toMatchObject({ state: 'done', pending: 0 })
    // The retained catalog came again and was applied again.
    await expect.poll(() => applied).toEqual([3])
    // A sale without a price takes the catalog's.
    expect((await postSale(agent.apiPort!, { items: [{ sku: 'FY-RICE', qty: 1 }], payment: 'cash' })).status).toBe(201)
    expect(agent.catalog().items[0]?.priceFen).toBe(3_990)

    await broker.publish(topics.commands('C1'), JSON.stringify(restart))
    await expect.poll(() => exits).toEqual([RESTART_EXIT_CODE])
    // Reported before the exit was asked for (the broker sees it a moment later).
    await expect.poll(() => reports(broker, restart.commandId).map((r) => r.state)).toEqual(['delivered', 'done'])
  })

  it('refuses a sale without a price for a sku it has no price for (400, nothing recorded)', async () => {
    const { agent } = await online()
    const r = await postSale(agent.apiPort!, { items: [{ sku: 'NO-PRICE', qty: 1 }], payment: 'cash' })
    expect(r.status).toBe(400)
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/没有价格/)
    expect(agent.status().lastSeq).toBe(0)
  })
})
