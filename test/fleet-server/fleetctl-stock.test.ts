// fleetctl's stock commands (issue 16 §3, §7): a cabinet's stock, a restock
// sent as a command, and the restock list as a table and as CSV/XLSX files.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import ExcelJS from 'exceljs'
import { describe, expect, it } from 'vitest'
import { run } from '../../fleet-server/src/cli/fleetctl.js'
import { api, startFleet, tempDir } from '../helpers/fleet.js'
import { csvRow, importCsv } from '../helpers/rollout.js'
import { sqlRun } from '../helpers/test-db.js'

async function fleetctl(args: string[], env: Record<string, string>) {
  const out: string[] = []
  const err: string[] = []
  const code = await run(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

describe('fleetctl stock', () => {
  it('cabinets stock, cabinets restock and restock-list (table, CSV, XLSX) in Chinese', async () => {
    const fleet = await startFleet()
    const env = { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: fleet.adminToken }
    await importCsv(fleet, [csvRow('DY-7', '341125', 'operating', 'dy-coop')])
    for (const [slot, sku, par, qty] of [['A1', 'DY-RICE', 8, 0], ['A2', 'DY-OIL', 5, 4], ['A3', 'DY-TEA', 4, 4]] as const) {
      await sqlRun(fleet.database, 'INSERT INTO cabinet_stock (cabinet_id, slot, sku, capacity, par, qty, oversold) VALUES (?, ?, ?, 10, ?, ?, 0)', 'DY-7', slot, sku, par, qty)
    }
    await sqlRun(fleet.database, "INSERT INTO cabinet_stock_reports (cabinet_id, rev, sent_at, reported_at) VALUES ('DY-7', 3, '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:01.000Z')")

    const stock = await fleetctl(['cabinets', 'stock', 'DY-7'], env)
    expect(stock.code, stock.stderr).toBe(0)
    expect(stock.stdout).toMatch(/^货道\s+商品编码\s+商品名称\s+现有库存\/标准库存/)
    expect(stock.stdout).toMatch(/A1\s+DY-RICE\s+0\/8\s+10\s+0\s+缺货/)
    expect(stock.stdout).toContain('尚未通过平台设置货道配置')

    const fill = await fleetctl(['cabinets', 'restock', 'DY-7', '--fill'], env)
    expect(fill.code, fill.stderr).toBe(0)
    const commandId = /指令编号 ([0-9a-f-]{36})/.exec(fill.stdout)?.[1]
    const view = await api<{ kind: string; params: { fill: boolean } }>(fleet, 'GET', `/api/v1/commands/${commandId}`)
    expect(view.body).toMatchObject({ kind: 'restock', params: { fill: true } })
    const some = JSON.parse((await fleetctl(['--json', 'cabinets', 'restock', 'DY-7', 'A1=5', 'A2=1'], env)).stdout) as { commandId: string }
    expect((await api<{ params: unknown }>(fleet, 'GET', `/api/v1/commands/${some.commandId}`)).body.params).toMatchObject({ slots: [{ slot: 'A1', qty: 5 }, { slot: 'A2', qty: 1 }] })
    expect((await fleetctl(['cabinets', 'restock', 'DY-7'], env)).code).toBe(2)
    expect((await fleetctl(['cabinets', 'restock', 'DY-7', 'A1=x'], env)).stderr).toContain('货道=数量')

    const list = await fleetctl(['restock-list'], env)
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toMatch(/定远县\s+\S+\s+DY-7\s+A1\s+DY-RICE\s+0\/8\s+8/)
    expect(list.stdout).toContain('装车合计')
    expect(list.stdout).not.toContain('DY-TEA') // at par

    const dir = await tempDir()
    const csvFile = join(dir, 'list.csv')
    expect((await fleetctl(['restock-list', '--county', '341125', '--format', 'csv', '--out', csvFile], env)).code).toBe(0)
    const rows = parse(await readFile(csvFile), { bom: true, relax_column_count: true }) as string[][]
    expect(rows.slice(1, 3).map((r) => [r[2], r[3], r[8]])).toEqual([['DY-7', 'A1', '8'], ['DY-7', 'A2', '1']])
    const xlsxFile = join(dir, 'list.xlsx')
    expect((await fleetctl(['restock-list', '--format', 'xlsx', '--out', xlsxFile], env)).code).toBe(0)
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.readFile(xlsxFile)
    expect(wb.worksheets.map((w) => w.name)).toEqual(['补货单', '装车合计'])
    expect(wb.getWorksheet('补货单')!.rowCount).toBe(3)
    expect((await fleetctl(['restock-list', '--format', 'pdf'], env)).code).toBe(2)
  })
})
