// fleetctl's stock commands (issue 16 §3, §7): a cabinet's stock, a restock
// recorded from the command line, and the restock (pick) list as a table or
// as a CSV/XLSX file.
import { writeFile } from 'node:fs/promises'
import { beijingZh, LABELS_ZH } from '../../../shared/src/index.js'

type Json = Record<string, unknown>

export const STOCK_USAGE = `  cabinets stock ID        各货道库存（现有/标准库存、超卖）与货道配置的下发状态
  cabinets restock ID (--fill | 货道=数量 …)
                   登记补货（以远程指令送达专柜）：--fill 全部补至标准库存，或逐个货道给出补入数量（如 A1=5 B2=3）
  restock-list [--county C] [--format json|csv|xlsx --out FILE]
                   补货单：低于标准库存的货道，按区县、点位分组，附各商品装车合计`

export interface StockCliContext {
  readonly group: string | undefined
  readonly cmd: string | undefined
  readonly rest: readonly string[]
  readonly opts: { county?: string | undefined; format?: string | undefined; out?: string | undefined; fill?: boolean | undefined }
  readonly call: <T = Json>(method: string, path: string, body?: unknown) => Promise<T>
  readonly download: (path: string) => Promise<{ bytes: Buffer; filename: string | null }>
  readonly print: (data: unknown, human: () => string) => void
  readonly need: (v: string | undefined, what: string) => string
  readonly usage: (message: string) => Error
  readonly table: (head: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>) => string
}

const F = LABELS_ZH.stockField
const LEVEL_ZH: Record<string, string> = { ok: '正常', low: '不足', out: '缺货' }
const bj = (iso: unknown) => beijingZh(typeof iso === 'string' ? iso : null)

/** Runs the command when it is one of ours; null otherwise. */
export async function runStockCommand(c: StockCliContext): Promise<number | null> {
  const { group, cmd, rest, opts: o } = c
  if (group === 'cabinets' && cmd === 'stock') {
    const id = c.need(rest[0], '专柜编号 ID')
    type Slot = { slot: string; sku: string; productName: string | null; capacity: number; par: number; qty: number; oversold: number; level: string }
    const r = await c.call<{ reportedAt: string | null; slots: Slot[]; planogram: { slots: unknown[]; state: string; setBy: string; setAt: string } | null }>('GET', `/cabinets/${encodeURIComponent(id)}/stock`)
    c.print(r, () =>
      [
        r.slots.length === 0
          ? `专柜 ${id} 尚未上报库存`
          : `${c.table([F.slot, F.sku, F.productName, `${F.qty}/${F.par}`, F.capacity, F.oversold, '状态'], r.slots.map((s) => [s.slot, s.sku, s.productName ?? '', `${s.qty}/${s.par}`, s.capacity, s.oversold, LEVEL_ZH[s.level] ?? s.level]))}\n${F.reportedAt}：${bj(r.reportedAt)}（北京时间）`,
        r.planogram ? `货道配置：${r.planogram.slots.length} 个货道，${r.planogram.setBy} 于 ${bj(r.planogram.setAt)} 设置（${LABELS_ZH.commandState[r.planogram.state as keyof typeof LABELS_ZH.commandState] ?? r.planogram.state}）` : '尚未通过平台设置货道配置',
      ].join('\n'),
    )
    return 0
  }
  if (group === 'cabinets' && cmd === 'restock') {
    const id = c.need(rest[0], '专柜编号 ID')
    const pairs = rest.slice(1)
    if (o.fill === true && pairs.length > 0) throw c.usage('--fill 与逐个货道的补入数量只能二选一')
    let body: Json
    if (o.fill === true) body = { fill: true }
    else {
      if (pairs.length === 0) throw c.usage('缺少补货内容：--fill，或 货道=数量（如 A1=5）')
      body = {
        slots: pairs.map((p) => {
          const m = /^([^=]+)=(\d{1,5})$/.exec(p)
          if (!m) throw c.usage(`补货内容应为 货道=数量（如 A1=5），收到 “${p}”`)
          return { slot: m[1]!, qty: Number(m[2]) }
        }),
      }
    }
    const r = await c.call<{ commandId: string; restockId: string; state: string }>('POST', `/cabinets/${encodeURIComponent(id)}/restocks`, body)
    c.print(r, () => `已登记专柜 ${id} 的补货（补货编号 ${r.restockId}），以远程指令送达专柜\n指令编号 ${r.commandId}；查看结果：fleetctl commands show ${r.commandId}`)
    return 0
  }
  if (group === 'restock-list' && cmd === undefined) {
    const format = o.format ?? 'json'
    if (!['json', 'csv', 'xlsx'].includes(format)) throw c.usage(`--format 应为 json、csv 或 xlsx，收到 “${format}”`)
    const q = new URLSearchParams({ format })
    if (o.county !== undefined) q.set('county', o.county)
    if (format !== 'json') {
      const f = await c.download(`/restock-list?${q}`)
      const file = o.out ?? f.filename ?? `restock-list.${format}`
      await writeFile(file, f.bytes)
      c.print({ format, file, bytes: f.bytes.length }, () => `已保存 ${file}（${f.bytes.length} 字节）`)
      return 0
    }
    type Total = { sku: string; productName: string | null; need: number }
    type List = { counties: Array<{ countyName: string; sites: Array<{ siteName: string | null; cabinets: Array<{ cabinetId: string; lines: Array<{ slot: string; sku: string; productName: string | null; par: number; qty: number; need: number }> }> }>; totals: Total[] }>; totals: Total[] }
    const r = await c.call<List>('GET', `/restock-list?${q}`)
    if (o.out) await writeFile(o.out, `${JSON.stringify(r, null, 2)}\n`)
    c.print(r, () => {
      if (r.counties.length === 0) return '没有低于标准库存的货道'
      const lines = r.counties.flatMap((co) => co.sites.flatMap((s) => s.cabinets.flatMap((k) => k.lines.map((l) => [co.countyName, s.siteName ?? '未定点', k.cabinetId, l.slot, l.productName ?? l.sku, `${l.qty}/${l.par}`, l.need]))))
      const totals = r.counties.flatMap((co) => co.totals.map((t) => [co.countyName, t.sku, t.productName ?? '', t.need]))
      return [
        c.table([F.countyName, F.siteName, F.cabinetId, F.slot, F.productName, `${F.qty}/${F.par}`, F.need], lines),
        '',
        '装车合计',
        c.table([F.countyName, F.sku, F.productName, F.need], totals),
      ].join('\n')
    })
    return 0
  }
  return null
}
