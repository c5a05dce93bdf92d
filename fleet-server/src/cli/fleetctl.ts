// fleetctl: the operators' command line over the fleet server's HTTP API only.
// Reads FLEET_URL and FLEET_TOKEN; --json prints the API's JSON, otherwise
// Chinese-first tables. Exit codes: 0 ok, 1 the server refused or is
// unreachable, 2 bad usage.
import { createWriteStream } from 'node:fs'
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { auditVerify } from './audit.js'
import { NOTIFICATIONS_USAGE, notificationsCommand } from './notifications.js'
import { runStockCommand, STOCK_USAGE } from './stock.js'
import { telemetryZh } from './telemetry.js'
import { beijingZh, ERROR_CODES, labelZh, percentBpZh, yuanToFen, yuanZh, type ErrorCode, type TelemetryReply } from '../../../shared/src/index.js'

export interface Io {
  out(line: string): void
  err(line: string): void
  /** A progress line that replaces the previous one (a terminal); absent: no progress shown. */
  progress?(line: string): void
}

const USAGE = `用法: npm run fleetctl -- [--json] 命令 …   (环境变量 FLEET_URL, FLEET_TOKEN)

  cabinets list [--county C] [--status S] [--operator O] [--online true|false] [--limit N] [--offset N]
  cabinets show ID
  cabinets history ID
  cabinets create --county C [--operator O] [--site 点位名称] [--venue 场所类型] [--id ID]
  cabinets set-status ID STATUS [--site 点位名称] [--venue 场所类型] [--address 地址] [--reason 原因]
  cabinets import FILE.csv [--partial]
  cabinets tamper-resolve ID --note 处理说明
                   账本篡改标记经核查后解除（市级管理员或专柜所在县区）；转发重新判定，告警随之恢复
  cabinets bootstrap-code ID [--ttl 秒]
                   一次性引导码：在专柜主板上运行 edge-agent enroll --code 引导码 即可部署（默认 24 小时有效）
  cabinets command ID KIND [--sku S --price 元] [--expires 小时]
                   远程指令 KIND: price（调价，需 --sku 与 --price）catalog-refresh sync restart lock unlock；
                   未在有效期内送达即过期（默认 24 小时）
  cabinets commands ID
  cabinets audit-export ID --month YYYY-MM [--out FILE]
                   审计导出：该月销售记录（含哈希链）、专柜公钥与批次签名，供离线核验
  audit verify FILE
                   离线核验审计导出文件（重算哈希、核对链接与签名；不需服务器和令牌）：通过退出码 0，不通过非 0
  cabinets telemetry ID [--hours N]
                   运行状态：温度、柜门、故障、存储、待上传销售、程序版本，及近 N 小时（默认 24）的逐小时温度
  commands show COMMAND_ID
${STOCK_USAGE}
  rollout
  alerts list [--state open|unacked|all] [--county C]
  alerts ack ALERT_ID
${NOTIFICATIONS_USAGE}
  users create --username U --role admin|county|operator|auditor [--county C] [--operator O] [--password P]
  reports list [--kind K] [--period P] [--county C]
  reports create --kind weekly|monthly|quarterly --period P [--county C]   (周报 2020-W40，月报 2020-09，季报 2020-Q3)
  reports get ID [--format json|csv|xlsx] [--out FILE]
  db backup FILE   在线备份数据库（服务器写入其备份目录并校验后，下载到 FILE；仅限管理员）
  db copy --to postgres://用户@主机/库 [--data 数据目录]
                   把内置 SQLite 数据库（--data 或 FLEET_DATA_DIR，默认 ./data）复制到一个空的
                   PostgreSQL 数据库并逐表核对行数与各专柜账本链头；服务器可在运行中（不需令牌）
  nats init --out 目录
                   新建 NATS 集群部署的身份文件 nats-identity.json（种子，按私钥保管）与各节点共用的
                   信任配置 nats-trust.conf（见 docs/cluster.md）；目录中已有则拒绝覆盖（不需令牌）

状态 STATUS: planned site_assigned installed operating suspended retired
CSV 列: cabinetId,countyCode,operator,siteName,siteAddress,venueType,latitude,longitude,status
       （或中文表头：专柜编号,区县代码,运营企业,点位名称,地址,场所类型,纬度,经度,状态）`

class UsageError extends Error {}
class CliError extends Error {}

/** Display width: CJK characters take two columns in a terminal. */
function width(s: string): number {
  let w = 0
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1
  return w
}

export function table(head: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cells = [head, ...rows.map((r) => r.map(String))]
  const widths = head.map((_, i) => Math.max(...cells.map((r) => width(r[i] ?? ''))))
  const line = (r: readonly string[]) => r.map((c, i) => c + ' '.repeat(widths[i]! - width(c))).join('  ').trimEnd()
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n')
}

// Labels, money and Beijing time come from shared/src/text/zh.ts, as in the dashboard and reports (issue 15).
const bj = (iso: unknown) => beijingZh(typeof iso === 'string' ? iso : null)

type Json = Record<string, unknown>

/** A command's parameters in a line: a price shows its SKU and 元. */
function commandParamsZh(c: Json): string {
  const p = (c.params ?? {}) as Json
  if (c.kind === 'price' && typeof p.priceFen === 'number') return `${String(p.sku)} → ${yuanZh(p.priceFen)} 元`
  if (c.kind === 'planogram' && Array.isArray(p.slots)) return `${p.slots.length} 个货道`
  if (c.kind === 'restock') return p.fill === true ? '全部补至标准库存' : Array.isArray(p.slots) ? `${p.slots.length} 个货道` : ''
  return ''
}

/** done: what the cabinet reported; failed: its message and code. */
function commandResultZh(result: unknown): string {
  if (!result || typeof result !== 'object') return ''
  const r = result as Json
  if (typeof r.message === 'string') return r.code ? `${r.message}（${String(r.code)}）` : r.message
  return Object.entries(r).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('，')
}

function client(baseUrl: string, token: string) {
  return async function call<T = Json>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    let res: Response
    try {
      res = await fetch(new URL(`/api/v1${path}`, baseUrl), {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': contentType }) },
        ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      const code = cause?.code
      const why = code === 'ECONNREFUSED' ? '连接被拒绝，服务未启动或地址有误' : code === 'ENOTFOUND' ? '找不到该主机' : (code ?? cause?.message ?? '网络错误')
      throw new CliError(`无法连接专柜管理平台 ${baseUrl}（${why}）`)
    }
    const text = await res.text()
    let data: unknown = null
    try {
      data = text ? JSON.parse(text) : null
    } catch {
      throw new CliError(`服务器返回了非 JSON 内容（HTTP ${res.status}）`)
    }
    if (!res.ok) throw refused(res.status, data)
    return data as T
  }
}

/** The server's error answer: its message is Chinese already (the code's text and the specifics). */
function refused(status: number, data: unknown): CliError {
  const e = (data as { error?: { code?: string; message?: string; details?: Json } } | null)?.error
  const code = e?.code ?? `HTTP_${status}`
  const zh = e?.message ?? (code in ERROR_CODES ? ERROR_CODES[code as ErrorCode] : `请求失败（HTTP ${status}）`)
  const hint = status === 401 ? '\n请检查 FLEET_TOKEN 是否正确。' : status === 403 || status === 404 ? '\n（超出您的权限范围的对象同样显示为不存在。）' : ''
  const rejected = (e?.details?.rejected as Array<{ line: number; field: string | null; message: string }> | undefined) ?? []
  const rows = rejected.length ? `\n${table(['行', '字段', '问题'], rejected.map((r) => [r.line, r.field ? labelZh('cabinetField', r.field) : '', r.message]))}` : ''
  return new CliError(`错误：${zh}（${code}，HTTP ${status}）${rows}${hint}`)
}

/** A file answer (report CSV/XLSX): its bytes and the file name the server suggests. */
async function download(baseUrl: string, token: string, path: string): Promise<{ bytes: Buffer; filename: string | null }> {
  let res: Response
  try {
    res = await fetch(new URL(`/api/v1${path}`, baseUrl), { headers: { authorization: `Bearer ${token}` } })
  } catch {
    throw new CliError(`无法连接专柜管理平台 ${baseUrl}`)
  }
  const bytes = Buffer.from(await res.arrayBuffer())
  if (!res.ok) {
    let data: unknown = null
    try {
      data = JSON.parse(bytes.toString('utf8'))
    } catch {
      // not JSON: the status alone says it
    }
    throw refused(res.status, data)
  }
  const m = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')
  return { bytes, filename: m?.[1] ?? null }
}

/**
 * Streams a file answer (a backup can be gigabytes) to `file` via a temp name,
 * fsynced and checked for length, so FILE is either the whole download or untouched.
 */
async function downloadTo(baseUrl: string, token: string, path: string, file: string, expectedBytes: number): Promise<void> {
  let res: Response
  try {
    res = await fetch(new URL(`/api/v1${path}`, baseUrl), { headers: { authorization: `Bearer ${token}` } })
  } catch {
    throw new CliError(`无法连接专柜管理平台 ${baseUrl}`)
  }
  if (!res.ok || !res.body) {
    const text = await res.text()
    let data: unknown = null
    try {
      data = JSON.parse(text)
    } catch {
      // not JSON: the status alone says it
    }
    throw refused(res.status, data)
  }
  const tmp = `${file}.partial`
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(tmp))
    const h = await open(tmp, 'r')
    try {
      await h.sync()
      const { size } = await h.stat()
      if (size !== expectedBytes) throw new CliError(`备份下载不完整：收到 ${size} 字节，应为 ${expectedBytes} 字节；请重试`)
    } finally {
      await h.close()
    }
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    if (err instanceof CliError) throw err
    throw new CliError(`无法保存备份到 ${file}（${(err as NodeJS.ErrnoException).code ?? (err as Error).message}）`)
  }
}

export async function run(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  try {
    const { values: o, positionals: pos } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        url: { type: 'string' },
        token: { type: 'string' },
        county: { type: 'string' },
        status: { type: 'string' },
        operator: { type: 'string' },
        online: { type: 'string' },
        limit: { type: 'string' },
        offset: { type: 'string' },
        site: { type: 'string' },
        venue: { type: 'string' },
        address: { type: 'string' },
        reason: { type: 'string' },
        id: { type: 'string' },
        partial: { type: 'boolean', default: false },
        state: { type: 'string' },
        username: { type: 'string' },
        role: { type: 'string' },
        password: { type: 'string' },
        kind: { type: 'string' },
        period: { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
        to: { type: 'string' },
        data: { type: 'string' },
        ttl: { type: 'string' },
        sku: { type: 'string' },
        price: { type: 'string' },
        expires: { type: 'string' },
        month: { type: 'string' },
        secret: { type: 'string' },
        severity: { type: 'string' },
        fill: { type: 'boolean' },
        hours: { type: 'string' },
        note: { type: 'string' },
      },
    })
    if (o.help || pos.length === 0) {
      io.out(USAGE)
      return o.help ? 0 : 2
    }
    if (pos[0] === 'db' && pos[1] === 'copy') return await dbCopy(o, env, io)
    if (pos[0] === 'nats' && pos[1] === 'init') return await natsInit(o, io)
    if (pos[0] === 'audit' && pos[1] === 'verify') {
      if (!pos[2]) throw new UsageError('缺少审计导出文件 FILE')
      return await auditVerify(pos[2], o.json, io)
    }
    const url = o.url ?? env.FLEET_URL ?? 'http://127.0.0.1:8080'
    const token = o.token ?? env.FLEET_TOKEN
    if (!token) throw new UsageError('未设置 FLEET_TOKEN（管理员令牌见 data/admin-token）')
    const call = client(url, token)
    const print = (data: unknown, human: () => string) => io.out(o.json ? JSON.stringify(data, null, 2) : human())
    const need = (v: string | undefined, what: string): string => {
      if (!v) throw new UsageError(`缺少${what}`)
      return v
    }
    const qs = (q: Record<string, string | undefined>) => {
      const p = new URLSearchParams()
      for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, v)
      const s = p.toString()
      return s ? `?${s}` : ''
    }
    const [group, cmd, ...rest] = pos
    const stock = await runStockCommand({
      group, cmd, rest, opts: o, call, print, need, table,
      download: (path) => download(url, token, path),
      usage: (message) => new UsageError(message),
    })
    if (stock !== null) return stock

    if (group === 'cabinets' && cmd === 'list') {
      const r = await call<{ cabinets: Json[]; total: number; offset: number }>('GET', `/cabinets${qs({ county: o.county, status: o.status, operator: o.operator, online: o.online, limit: o.limit, offset: o.offset })}`)
      print(r, () =>
        r.cabinets.length === 0
          ? `没有符合条件的专柜（共 ${r.total} 台）`
          : `${table(
              ['编号', '区县', '状态', '在线', '点位', '场所', '销售额(元)', '最后在线'],
              r.cabinets.map((c) => [
                String(c.cabinetId),
                String(c.countyCode),
                labelZh('cabinetStatus', String(c.status)),
                c.online ? '在线' : '离线',
                String(c.siteName ?? '—'),
                String(c.venueType ?? '—'),
                yuanZh((c.sales as { amountFen: number }).amountFen),
                bj(c.lastSeenAt),
              ]),
            )}\n共 ${r.total} 台，显示第 ${r.offset + 1}–${r.offset + r.cabinets.length} 台`,
      )
      return 0
    }
    if (group === 'cabinets' && cmd === 'show') {
      const id = need(rest[0], '专柜编号 ID')
      const c = await call<Json & { sales: Json }>('GET', `/cabinets/${encodeURIComponent(id)}`)
      print(c, () =>
        [
          `专柜 ${c.cabinetId}`,
          `  区县      ${c.countyCode}`,
          `  状态      ${labelZh('cabinetStatus', String(c.status))}（自 ${bj(c.statusSince)}）`,
          `  在线      ${c.online ? '在线' : '离线'}，最后在线 ${bj(c.lastSeenAt)}`,
          `  点位      ${c.siteName ?? '未定点'}${c.venueType ? `（${c.venueType}）` : ''}${c.siteAddress ? ` ${c.siteAddress}` : ''}`,
          `  运营企业  ${c.operator ?? '—'}`,
          `  销售      ${c.sales.count} 笔，${yuanZh(Number(c.sales.amountFen))} 元，其中扶贫产品 ${yuanZh(Number(c.sales.certifiedAmountFen))} 元`,
          `  账本      ${c.chainStatus === 'ok' ? '正常' : '发现篡改'}`,
        ].join('\n'),
      )
      return 0
    }
    if (group === 'cabinets' && cmd === 'audit-export') {
      const id = need(rest[0], '专柜编号 ID')
      const r = await call<Json & { records: Json[]; signatures: Json[] }>('GET', `/cabinets/${encodeURIComponent(id)}/audit-export${qs({ month: need(o.month, ' --month YYYY-MM') })}`)
      const text = `${JSON.stringify(r, null, 2)}\n`
      if (o.out) {
        await writeFile(o.out, text)
        io.out(`已导出专柜 ${id} ${String(r.month)} 的 ${r.records.length} 笔销售记录和 ${r.signatures.length} 个批次签名到 ${o.out}；核验：npm run fleetctl -- audit verify ${o.out}`)
      } else io.out(text.trimEnd())
      return 0
    }
    if (group === 'cabinets' && cmd === 'history') {
      const id = need(rest[0], '专柜编号 ID')
      const r = await call<{ transitions: Json[] }>('GET', `/cabinets/${encodeURIComponent(id)}/transitions`)
      print(r, () => table(['时间(北京)', '变更', '操作人', '原因'], r.transitions.map((t) => [bj(t.at), `${t.from ? labelZh('cabinetStatus', String(t.from)) : '创建'} → ${labelZh('cabinetStatus', String(t.to))}`, String(t.by), String(t.reason ?? '')])))
      return 0
    }
    if (group === 'cabinets' && cmd === 'create') {
      const body = { countyCode: need(o.county, ' --county 区县代码'), ...(o.operator && { operator: o.operator }), ...(o.site && { siteName: o.site }), ...(o.venue && { venueType: o.venue }), ...(o.id && { cabinetId: o.id }) }
      const r = await call<{ cabinetId: string; mqtt: { username: string; password: string } }>('POST', '/cabinets', body)
      print(r, () => `已创建专柜 ${r.cabinetId}\nMQTT 用户名 ${r.mqtt.username}\nMQTT 密码   ${r.mqtt.password}\n（密码只显示这一次，请妥善保存。）`)
      return 0
    }
    if (group === 'cabinets' && cmd === 'set-status') {
      const id = need(rest[0], '专柜编号 ID')
      const status = need(rest[1], '目标状态 STATUS')
      const body = { status, ...(o.site && { siteName: o.site }), ...(o.venue && { venueType: o.venue }), ...(o.address && { siteAddress: o.address }), ...(o.reason && { reason: o.reason }) }
      const r = await call<{ cabinet: Json }>('PATCH', `/cabinets/${encodeURIComponent(id)}`, body)
      print(r.cabinet, () => `专柜 ${id} 状态已变更为 ${labelZh('cabinetStatus', String(r.cabinet.status))}`)
      return 0
    }
    if (group === 'cabinets' && cmd === 'tamper-resolve') {
      const id = need(rest[0], '专柜编号 ID')
      const note = need(o.note, '处理说明 --note')
      const r = await call<{ tamperedCount: number; reviewedAt: string; reviewedBy: string }>('POST', `/cabinets/${encodeURIComponent(id)}/tamper/resolve`, { note })
      print(r, () => `专柜 ${id} 的账本篡改标记已解除（累计 ${r.tamperedCount} 次），处理人 ${r.reviewedBy}，${bj(r.reviewedAt)}（北京时间）`)
      return 0
    }
    if (group === 'cabinets' && cmd === 'bootstrap-code') {
      const id = need(rest[0], '专柜编号 ID')
      let body: { ttlS: number } | undefined
      if (o.ttl !== undefined) {
        if (!/^\d+$/.test(o.ttl)) throw new UsageError(`--ttl 应为秒数（整数），收到 “${o.ttl}”`)
        body = { ttlS: Number(o.ttl) }
      }
      const r = await call<{ code: string; expiresAt: string }>('POST', `/cabinets/${encodeURIComponent(id)}/bootstrap-code`, body)
      print(r, () =>
        [
          `专柜 ${id} 的引导码：${r.code}`,
          `有效期至 ${bj(r.expiresAt)}（北京时间），只能使用一次；再次生成会使这个引导码作废`,
          `在专柜主板上运行：edge-agent enroll --code ${r.code} --http ${url} --data 数据目录`,
        ].join('\n'),
      )
      return 0
    }
    if (group === 'cabinets' && cmd === 'command') {
      const id = need(rest[0], '专柜编号 ID')
      const kind = need(rest[1], '指令类型 KIND')
      const body: Json = { kind }
      if (kind === 'price') {
        const sku = need(o.sku, ' --sku 商品编码')
        const price = need(o.price, ' --price 售价（元）')
        let priceFen: number
        try {
          priceFen = yuanToFen(price)
        } catch {
          throw new UsageError(`--price 应为元，至多两位小数（如 12.50），收到 “${price}”`)
        }
        body.params = { sku, priceFen }
      } else if (o.sku !== undefined || o.price !== undefined) {
        throw new UsageError(`--sku 与 --price 只用于 price（调价）指令`)
      }
      if (o.expires !== undefined) {
        if (!/^\d{1,4}$/.test(o.expires) || Number(o.expires) < 1) throw new UsageError(`--expires 应为小时数（正整数），收到 “${o.expires}”`)
        body.expiresInS = Number(o.expires) * 3600
      }
      const r = await call<{ commandId: string; state: string; expiresAt: string }>('POST', `/cabinets/${encodeURIComponent(id)}/commands`, body)
      print(r, () =>
        [
          `已向专柜 ${id} 发送指令：${labelZh('commandKind', kind)}（${labelZh('commandState', r.state)}）`,
          `指令编号 ${r.commandId}`,
          `${bj(r.expiresAt)}（北京时间）前未送达即过期；查看结果：fleetctl commands show ${r.commandId}`,
        ].join('\n'),
      )
      return 0
    }
    if (group === 'cabinets' && cmd === 'commands') {
      const id = need(rest[0], '专柜编号 ID')
      const r = await call<{ commands: Json[] }>('GET', `/cabinets/${encodeURIComponent(id)}/commands`)
      print(r, () =>
        r.commands.length === 0
          ? `专柜 ${id} 尚未收到过指令`
          : table(['指令编号', '指令', '参数', '发送人', '发送时间(北京)', '状态', '结果'], r.commands.map((c) => [String(c.commandId), labelZh('commandKind', String(c.kind)), commandParamsZh(c), String(c.sentBy), bj(c.issuedAt), labelZh('commandState', String(c.state)), commandResultZh(c.result)])),
      )
      return 0
    }
    if (group === 'cabinets' && cmd === 'telemetry') {
      const id = need(rest[0], '专柜编号 ID')
      const r = await call<TelemetryReply>('GET', `/cabinets/${encodeURIComponent(id)}/telemetry${qs({ hours: o.hours })}`)
      print(r, () => telemetryZh(r))
      return 0
    }
    if (group === 'commands' && cmd === 'show') {
      const id = need(rest[0], '指令编号 COMMAND_ID')
      const c = await call<Json>('GET', `/commands/${encodeURIComponent(id)}`)
      print(c, () =>
        [
          `指令 ${c.commandId}`,
          `  专柜      ${c.cabinetId}`,
          `  指令      ${labelZh('commandKind', String(c.kind))}${commandParamsZh(c) ? `（${commandParamsZh(c)}）` : ''}`,
          `  状态      ${labelZh('commandState', String(c.state))}`,
          `  发送人    ${c.sentBy}（${labelZh('role', String(c.sentRole))}）`,
          `  发送时间  ${bj(c.issuedAt)}`,
          `  送达时间  ${bj(c.deliveredAt)}`,
          `  完成时间  ${bj(c.completedAt)}`,
          `  过期时间  ${bj(c.expiredAt ?? c.expiresAt)}${c.expiredAt ? '（已过期）' : ''}`,
          ...(c.result ? [`  结果      ${commandResultZh(c.result)}`] : []),
        ].join('\n'),
      )
      return 0
    }
    if (group === 'cabinets' && cmd === 'import') {
      const file = need(rest[0], 'CSV 文件')
      let csv: string
      try {
        csv = await readFile(file, 'utf8')
      } catch {
        throw new UsageError(`无法读取文件 ${file}`)
      }
      const r = await call<{ rows: number; imported: number; rejected: Array<{ line: number; field: string | null; message: string }>; cabinets: Array<{ cabinetId: string; mqtt: { password: string } }> }>(
        'POST',
        `/cabinets/import${o.partial ? '?partial=true' : ''}`,
        csv,
        'text/csv',
      )
      print(r, () => {
        const lines = [`导入完成：共 ${r.rows} 行，导入 ${r.imported} 台，跳过 ${r.rejected.length} 行。`]
        if (r.rejected.length) lines.push(table(['行', '字段', '问题'], r.rejected.map((x) => [x.line, x.field ? labelZh('cabinetField', x.field) : '', x.message])))
        lines.push('各专柜的 MQTT 密码只在此次返回中出现；请用 --json 保存。')
        return lines.join('\n')
      })
      return 0
    }
    if (group === 'rollout' && cmd === undefined) {
      const r = await call<{
        plan: { name: string }
        asOf: string
        counties: Array<Json & { next: { state: string; onTrack: boolean; projectedDate: string | null } | null }>
        totals: Record<string, number>
        milestones: Array<{ date: string; description: string; state: string; countiesMet: number; counties: number }>
      }>('GET', '/rollout')
      print(r, () => {
        const pctOf = (n: number, q: number) => (q > 0 ? `${((n / q) * 100).toFixed(1)}%` : '—')
        const rows = r.counties.map((c) => {
          const q = Number(c.quota)
          const n = c.next
          return [
            String(c.name),
            String(c.code),
            q,
            `${c.sitesAssigned} (${pctOf(Number(c.sitesAssigned), q)})`,
            `${c.installed} (${pctOf(Number(c.installed), q)})`,
            Number(c.operating),
            Number(c.online),
            n ? `${labelZh('milestoneState', n.state)}${n.onTrack ? '，按期' : '，落后'}${n.projectedDate ? `，预计 ${n.projectedDate}` : ''}` : '全部完成',
          ]
        })
        const t = r.totals
        rows.push(['合计', '', t.quota!, `${t.sitesAssigned} (${pctOf(t.sitesAssigned!, t.quota!)})`, `${t.installed} (${pctOf(t.installed!, t.quota!)})`, t.operating!, t.online!, ''])
        return [
          `${r.plan.name}（截至北京时间 ${bj(r.asOf)}）`,
          table(['县区', '代码', '任务', '已定点', '已安装', '运营', '在线', '下一节点'], rows),
          '',
          '节点目标:',
          ...r.milestones.map((m) => `  ${m.date}  ${labelZh('milestoneState', m.state)}  ${m.description}（${m.countiesMet}/${m.counties} 个县区达标）`),
        ].join('\n')
      })
      return 0
    }
    if (group === 'alerts' && cmd === 'list') {
      const r = await call<{ alerts: Json[]; total: number }>('GET', `/alerts${qs({ state: o.state, county: o.county })}`)
      print(r, () => (r.alerts.length === 0 ? '暂无告警' : table(['编号', '级别', '区县', '内容', '发生时间', '确认'], r.alerts.map((a) => [String(a.alertId), labelZh('severity', String(a.severity)), String(a.countyCode ?? ''), String(a.message), bj(a.raisedAt), a.ackedBy ? String(a.ackedBy) : '未确认']))))
      return 0
    }
    if (group === 'alerts' && cmd === 'ack') {
      const id = need(rest[0], '告警编号')
      const r = await call<{ alert: Json }>('POST', `/alerts/${encodeURIComponent(id)}/ack`)
      print(r, () => `告警 ${id} 已确认`)
      return 0
    }
    if (group === 'notifications' && (await notificationsCommand(cmd, rest, o, { call, print, need, table, usage: (m) => new UsageError(m) }))) return 0
    if (group === 'users' && cmd === 'create') {
      const body = {
        username: need(o.username, ' --username'),
        role: need(o.role, ' --role'),
        ...(o.county && { countyCode: o.county }),
        ...(o.operator && { operator: o.operator }),
        ...(o.password && { password: o.password }),
      }
      const r = await call<{ userId: string; token: string; username: string; role: string }>('POST', '/users', body)
      print(r, () => `已创建用户 ${r.username}（${labelZh('role', r.role)}）\nAPI 令牌 ${r.token}\n（令牌只显示这一次，请妥善保存。）`)
      return 0
    }
    if (group === 'reports' && cmd === 'list') {
      const r = await call<{ reports: Json[] }>('GET', `/reports${qs({ kind: o.kind, period: o.period, county: o.county })}`)
      print(r, () =>
        r.reports.length === 0
          ? '暂无报表'
          : table(['编号', '类型', '期间', '范围', '生成时间', '生成方式'], r.reports.map((x) => [String(x.reportId), labelZh('reportKind', String(x.kind)), String(x.period), String(x.scopeName), bj(x.createdAt), x.scheduled ? '定时' : String(x.createdBy)])),
      )
      return 0
    }
    if (group === 'reports' && cmd === 'create') {
      const body = { kind: need(o.kind, ' --kind weekly|monthly|quarterly'), period: need(o.period, ' --period 期间'), ...(o.county && { county: o.county }) }
      const r = await call<{ reportId: string; scopeName: string; kind: string; period: string; from: string; to: string }>('POST', '/reports', body)
      print(r, () => `已生成${r.scopeName}${labelZh('reportKind', r.kind)}（${r.period}，${r.from} 至 ${r.to}）\n报表编号 ${r.reportId}`)
      return 0
    }
    if (group === 'reports' && cmd === 'get') {
      const id = need(rest[0], '报表编号 ID')
      const format = o.format ?? 'json'
      if (format !== 'json') {
        const f = await download(url, token, `/reports/${encodeURIComponent(id)}?format=${encodeURIComponent(format)}`)
        const file = o.out ?? f.filename ?? `report-${id}.${format}`
        await writeFile(file, f.bytes)
        print({ reportId: id, format, file, bytes: f.bytes.length }, () => `已保存 ${file}（${f.bytes.length} 字节）`)
        return 0
      }
      type Sales = { salesCount: number; amountFen: number; certifiedAmountFen: number; shareBp: number; compliantCabinets: number; judgedCabinets: number }
      type County = { code: string; name: string; rollout: Record<string, number>; sales: Sales; forwarding: Record<string, number> }
      const r = await call<{ title: string; from: string; to: string; createdAt: string; dueOn: string | null; counties: County[]; totals: Omit<County, 'code' | 'name'> }>('GET', `/reports/${encodeURIComponent(id)}`)
      if (o.out) {
        await writeFile(o.out, `${JSON.stringify(r, null, 2)}\n`)
        io.out(`已保存 ${o.out}`)
        return 0
      }
      print(r, () => {
        const row = (code: string, name: string, c: Omit<County, 'code' | 'name'>) => [
          name, code, c.rollout.quota!, c.rollout.installed!, c.rollout.operating!, c.sales.salesCount, yuanZh(c.sales.amountFen), yuanZh(c.sales.certifiedAmountFen), percentBpZh(c.sales.shareBp), `${c.sales.compliantCabinets}/${c.sales.judgedCabinets}`,
        ]
        return [
          r.title,
          `统计期间 ${r.from} 至 ${r.to}（北京时间），生成于 ${bj(r.createdAt)}${r.dueOn ? `，报送期限 ${r.dueOn}` : ''}`,
          table(['县区', '代码', '任务', '已安装', '运营', '销售笔数', '销售额(元)', '扶贫产品(元)', '占比', '达标/参评'], [...r.counties.map((c) => row(c.code, c.name, c)), row('', '合计', r.totals)]),
        ].join('\n')
      })
      return 0
    }
    if (group === 'db' && cmd === 'backup') {
      const file = need(rest[0], '备份文件路径 FILE')
      // Through the API, not by opening FLEET_DATA_DIR: it works for a remote
      // admin, and the server stays the database's only writer.
      const b = await call<{ name: string; bytes: number; takenAt: string }>('POST', '/admin/backups')
      await downloadTo(url, token, `/admin/backups/${encodeURIComponent(b.name)}`, file, b.bytes)
      print({ ...b, file }, () => `已备份数据库：服务器端 ${b.name}（${b.bytes} 字节，${bj(b.takenAt)}），已保存到 ${file}`)
      return 0
    }
    throw new UsageError(`未知命令：${pos.join(' ')}`)
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`错误：${err.message}\n\n${USAGE}`)
      return 2
    }
    if (err instanceof CliError) {
      io.err(err.message)
      return 1
    }
    const argError = parseArgsErrorZh(err)
    if (argError) {
      io.err(`错误：参数有误：${argError}\n\n${USAGE}`)
      return 2
    }
    io.err(`错误：${err instanceof Error ? err.message : String(err)}`)
    return 1
  }
}

/** node:util parseArgs's refusals (English, with codes) in Chinese; null for any other error. */
function parseArgsErrorZh(err: unknown): string | null {
  const code = (err as { code?: unknown }).code
  if (!(err instanceof TypeError) || typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return null
  const option = /'(-[^'\s]+)/.exec(err.message)?.[1]
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return option ? `不认识的选项 “${option}”` : '不认识的选项'
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return option ? `选项 “${option}” 缺少取值或取值不合法` : '选项缺少取值或取值不合法'
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return '多余的参数'
  return '无法解析'
}

/** `nats init`: local files only, for a new NATS cluster deployment (docs/cluster.md). */
async function natsInit(o: { out?: string | undefined; json?: boolean | undefined }, io: Io): Promise<number> {
  if (!o.out) throw new UsageError('缺少 --out 目录（写入 nats-identity.json 与 nats-trust.conf）')
  const { writeNatsSetup, NatsSetupExists } = await import('../nats/index.js')
  try {
    const r = await writeNatsSetup(o.out)
    if (o.json) io.out(JSON.stringify({ ok: true, ...r }, null, 2))
    else {
      io.out(`已写入身份文件 ${r.identityFile}（权限 600；按私钥保管并离线备份，副本以 FLEET_NATS_IDENTITY 指向它）`)
      io.out(`已写入信任配置 ${r.trustFile}（每个 NATS 节点的配置中 include 它，保持不变）`)
      io.out(`专柜账户公钥：${r.fleetAccount}`)
    }
    return 0
  } catch (err) {
    if (err instanceof NatsSetupExists) {
      io.err(`错误：${err.message} 已存在；一个部署只有一个身份，重写会使所有专柜的凭据失效。`)
      return 1
    }
    throw err
  }
}

/**
 * `db copy`: works on the data dir's file and the target database directly,
 * not through the API (the target is not yet any server's database). Loaded
 * on demand so the HTTP commands never load the database drivers.
 */
async function dbCopy(o: { to?: string | undefined; data?: string | undefined; json?: boolean | undefined }, env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  const to = o.to
  if (!to) throw new UsageError('缺少 --to postgres://…（目标 PostgreSQL 数据库）')
  if (!/^postgres(ql)?:\/\//.test(to)) throw new UsageError(`--to 须为 postgres:// 地址，收到 ${to}`)
  const dataDir = o.data ?? env.FLEET_DATA_DIR ?? './data'
  const [{ copySqliteToPostgres, DbCopyError }, { foldLeftoverSales, salesFolded }, { pino }] = await Promise.all([import('../db/copy.js'), import('../sales/fold-leftover.js'), import('pino')])
  // Warnings and errors of the database layer, on stderr; the summary is stdout's.
  const log = pino({ level: 'warn' }, pino.destination(2))
  let lastShown = 0
  try {
    const r = await copySqliteToPostgres(dataDir, to, log, {
      settle: { run: (source) => foldLeftoverSales(source, log), done: salesFolded },
      onProgress: (p) => {
        const now = Date.now()
        if (p.copied !== p.total && p.copied !== 0 && now - lastShown < 200) return
        lastShown = now
        io.progress?.(`复制 ${p.table}：${p.copied}/${p.total} 行${p.total > 0 ? `（${Math.floor((p.copied / p.total) * 100)}%）` : ''}`)
      },
    })
    io.progress?.('')
    const total = r.tables.reduce((t, x) => t + x.rows, 0)
    if (o.json) io.out(JSON.stringify({ ok: true, ...r, totalRows: total }, null, 2))
    else {
      io.out(table(['表', '行数'], [...r.tables.map((t) => [t.table, t.rows] as const), ['合计', total]]))
      io.out(`复制完成并已核对：${r.tables.length} 张表行数一致，${r.chainHeads} 台专柜的账本链头一致（结构版本 ${r.schemaVersion}，用时 ${(r.elapsedMs / 1000).toFixed(1)} 秒）。`)
      io.out(`启动方式：FLEET_DATABASE_URL=<目标地址> npm start`)
    }
    return 0
  } catch (err) {
    io.progress?.('')
    if (err instanceof DbCopyError) {
      io.err(`错误：${err.message}`)
      return 1
    }
    throw err
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const tty = process.stderr.isTTY
  const code = await run(process.argv.slice(2), process.env, {
    out: (s) => console.log(s),
    err: (s) => console.error(s),
    // \r and erase-to-end-of-line: one line that keeps being rewritten; nothing when piped.
    ...(tty && { progress: (s: string) => void process.stderr.write(s ? `\r${s}\x1b[K` : '\r\x1b[K') }),
  })
  process.exitCode = code
}
