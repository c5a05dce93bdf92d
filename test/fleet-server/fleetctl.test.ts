// fleetctl, the operators' CLI, over HTTP against a real fleet server: JSON and
// Chinese table output, lifecycle errors, imports, and zh-CN failures with a
// non-zero exit (401, 404, connection refused). A few runs are real child
// processes through `npm run fleetctl`; the rest call its run() in-process
// (same code, same HTTP, a second less each).
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { run } from '../../fleet-server/src/cli/fleetctl.js'
import { REPO_ROOT, freePort } from '../helpers/process.js'
import { startFleet, tempDir } from '../helpers/fleet.js'
import { CSV_HEADER, csvRow, importCsv } from '../helpers/rollout.js'
import { englishWords } from '../helpers/zh.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** `npm run -s fleetctl -- ARGS` as a child process. */
function npmFleetctl(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile('npm', ['run', '-s', 'fleetctl', '--', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

/** The same CLI in-process: run(argv, env, io) is what main calls. */
async function fleetctl(args: string[], env: Record<string, string>, viaNpm = false): Promise<Run> {
  if (viaNpm) return npmFleetctl(args, env)
  const out: string[] = []
  const err: string[] = []
  const code = await run(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.map((l) => `${l}\n`).join('') }
}

describe('npm run fleetctl', () => {
  it('lists, shows, creates, changes status and prints rollout; --json prints the API JSON', async () => {
    const fleet = await startFleet()
    const env = { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: fleet.adminToken }
    await importCsv(fleet, [csvRow('DY-1', '341125', 'operating'), csvRow('DY-2', '341125', 'planned'), csvRow('FY-1', '341126', 'installed')])

    const json = await fleetctl(['cabinets', 'list', '--county', '341125', '--json'], env, true)
    expect(json.code, json.stderr).toBe(0)
    const list = JSON.parse(json.stdout) as { cabinets: Array<{ cabinetId: string }>; total: number }
    expect(list.cabinets.map((c) => c.cabinetId)).toEqual(['DY-1', 'DY-2'])

    const table = await fleetctl(['cabinets', 'list', '--status', 'installed'], env)
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^编号\s+区县\s+状态\s+在线/)
    expect(table.stdout).toContain('FY-1')
    expect(table.stdout).toContain('已安装')
    expect(table.stdout).toContain('共 1 台')

    const created = await fleetctl(['--json', 'cabinets', 'create', '--county', '341125', '--site', '定远县人民医院', '--venue', '医院'], env)
    expect(JSON.parse(created.stdout)).toMatchObject({ cabinetId: '341125-00001', mqtt: { username: '341125-00001' } })
    const moved = await fleetctl(['cabinets', 'set-status', '341125-00001', 'site_assigned'], env)
    expect(moved.stdout.trim()).toBe('专柜 341125-00001 状态已变更为 已定点')

    const jump = await fleetctl(['cabinets', 'set-status', 'DY-2', 'operating'], env)
    expect(jump.code).toBe(1)
    expect(jump.stderr.trim()).toBe('错误：专柜状态变更不合法：专柜 “DY-2” 不能从“规划中”变为“运营中”；可变为：“已定点”、“已撤除”（CABINET_STATUS_INVALID，HTTP 409）')

    const show = await fleetctl(['cabinets', 'show', 'DY-1'], env)
    expect(show.stdout).toContain('专柜 DY-1')
    expect(show.stdout).toContain('运营中')

    const rollout = await fleetctl(['rollout'], env)
    expect(rollout.code).toBe(0)
    expect(rollout.stdout).toMatch(/定远县\s+341125\s+415\s+2 \(0\.5%\)\s+1 \(0\.2%\)\s+1\s+0/)
    expect(rollout.stdout).toContain('合计')
    expect(rollout.stdout).toContain('全部专柜点位落实到具体位置并运营一批')
    const rolloutJson = JSON.parse((await fleetctl(['rollout', '--json'], env)).stdout) as { totals: Record<string, number> }
    expect(rolloutJson.totals).toEqual({ quota: 2700, sitesAssigned: 3, installed: 2, operating: 1, online: 0, onlineNotInstalled: 0 })

    const user = await fleetctl(['users', 'create', '--username', 'dy', '--role', 'county', '--county', '341125', '--json'], env)
    const token = (JSON.parse(user.stdout) as { token: string }).token
    const scoped = JSON.parse((await fleetctl(['cabinets', 'list', '--json'], { ...env, FLEET_TOKEN: token })).stdout) as { cabinets: Array<{ countyCode: string }> }
    expect(scoped.cabinets.every((c) => c.countyCode === '341125')).toBe(true)
    const hidden = await fleetctl(['cabinets', 'show', 'FY-1'], { ...env, FLEET_TOKEN: token })
    expect(hidden.code).toBe(1)
    expect(hidden.stderr).toContain('错误：对象不存在或无权查看：专柜 “FY-1”（NOT_FOUND，HTTP 404）')
  })

  it('cabinets bootstrap-code prints a one-time code and its expiry in Chinese (issue 16)', async () => {
    const fleet = await startFleet()
    const env = { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: fleet.adminToken }
    await importCsv(fleet, [csvRow('FY-9', '341126', 'site_assigned')])
    const r = await fleetctl(['cabinets', 'bootstrap-code', 'FY-9', '--ttl', '7200'], env)
    expect(r.code, r.stderr).toBe(0)
    const code = /引导码：([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})/.exec(r.stdout)?.[1]
    expect(code).toBeDefined()
    expect(r.stdout).toMatch(/有效期至 \d{4}-\d\d-\d\d \d\d:\d\d（北京时间），只能使用一次/)
    expect(r.stdout).toContain(`edge-agent enroll --code ${code} --http ${fleet.httpUrl}`)
    const json = JSON.parse((await fleetctl(['--json', 'cabinets', 'bootstrap-code', 'FY-9'], env)).stdout) as { code: string; expiresAt: string }
    expect(json.code).not.toBe(code)
    const bad = await fleetctl(['cabinets', 'bootstrap-code', 'FY-9', '--ttl', '5'], env)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('有效期至少 60 秒')
    expect((await fleetctl(['cabinets', 'bootstrap-code', 'FY-9', '--ttl', 'soon'], env)).code).toBe(2)
  })

  it('cabinets command sends a remote command (price in 元 → integer fen) and commands show reads it, in Chinese (issue 16 §7)', async () => {
    const fleet = await startFleet()
    const env = { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: fleet.adminToken }
    await importCsv(fleet, [csvRow('FY-7', '341126', 'operating')])
    const sent = await fleetctl(['cabinets', 'command', 'FY-7', 'price', '--sku', 'TEA-01', '--price', '19.90', '--expires', '2'], env)
    expect(sent.code, sent.stderr).toBe(0)
    expect(sent.stdout).toContain('已向专柜 FY-7 发送指令：调价（待送达）')
    const commandId = /指令编号 ([0-9a-f-]{36})/.exec(sent.stdout)?.[1]
    expect(commandId).toBeDefined()
    const api = await fetch(`${fleet.httpUrl}/api/v1/commands/${commandId}`, { headers: { authorization: `Bearer ${fleet.adminToken}` } })
    const view = (await api.json()) as { params: unknown; issuedAt: string; expiresAt: string; state: string }
    expect(view).toMatchObject({ params: { sku: 'TEA-01', priceFen: 1990 }, state: 'pending' })
    expect(Date.parse(view.expiresAt) - Date.parse(view.issuedAt)).toBe(2 * 3600 * 1000)

    const show = await fleetctl(['commands', 'show', commandId!], env)
    expect(show.code, show.stderr).toBe(0)
    expect(show.stdout).toContain(`指令 ${commandId}`)
    expect(show.stdout).toContain('调价（TEA-01 → 19.90 元）')
    expect(show.stdout).toMatch(/状态\s+待送达/)
    expect(show.stdout).toMatch(/发送人\s+admin（市级管理员）/)
    const list = await fleetctl(['cabinets', 'commands', 'FY-7'], env)
    expect(list.stdout).toMatch(/^指令编号\s+指令\s+参数/)
    expect(list.stdout).toContain('TEA-01 → 19.90 元')

    const lock = JSON.parse((await fleetctl(['--json', 'cabinets', 'command', 'FY-7', 'lock'], env)).stdout) as { commandId: string; state: string }
    expect(lock.state).toBe('pending')

    // Bad usage stays local (exit 2); the server's refusals come back in Chinese (exit 1).
    const floaty = await fleetctl(['cabinets', 'command', 'FY-7', 'price', '--sku', 'TEA-01', '--price', '19.999'], env)
    expect(floaty.code).toBe(2)
    expect(floaty.stderr).toContain('--price 应为元，至多两位小数')
    expect((await fleetctl(['cabinets', 'command', 'FY-7', 'price', '--price', '1'], env)).stderr).toContain('缺少 --sku')
    expect((await fleetctl(['cabinets', 'command', 'FY-7', 'sync', '--expires', '0.5'], env)).code).toBe(2)
    const unknown = await fleetctl(['cabinets', 'command', 'FY-7', 'explode'], env)
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('HTTP 400')
    const missing = await fleetctl(['commands', 'show', '00000000-0000-4000-8000-000000000000'], env)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('COMMAND_NOT_FOUND，HTTP 404')
  })

  it('imports a CSV all-or-nothing, or the good rows with --partial, listing the bad ones', async () => {
    const fleet = await startFleet()
    const env = { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: fleet.adminToken }
    const file = join(await tempDir('csv-'), 'sites.csv')
    await writeFile(file, [CSV_HEADER, csvRow('A-1', '341125', 'installed'), 'A-2,999999,,,,,,,planned', csvRow('A-3', '341126', 'planned')].join('\n'))
    const refused = await fleetctl(['cabinets', 'import', file], env)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^错误：导入文件有错误行，未导入任何专柜：共 3 行，第 3 行有错误.*（CABINET_IMPORT_INVALID，HTTP 400）$/m)
    expect(refused.stderr).toMatch(/3\s+区县代码\s+区县代码 “999999” 不在布设计划 “chuzhou-2020” 中/)
    expect(englishWords(refused.stderr.replace(/[A-Z_]+，HTTP/g, ''))).toEqual([])
    const partial = await fleetctl(['cabinets', 'import', file, '--partial'], env)
    expect(partial.code).toBe(0)
    expect(partial.stdout).toContain('导入完成：共 3 行，导入 2 台，跳过 1 行。')
  })

  it('fails in Chinese with a non-zero exit on a bad token, a refused connection and bad usage', async () => {
    const fleet = await startFleet()
    const badToken = await fleetctl(['rollout'], { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: 'not-a-token' }, true)
    expect(badToken.code).toBe(1)
    expect(badToken.stderr).toContain('错误：未登录或令牌无效：令牌无效（UNAUTHORIZED，HTTP 401）')
    expect(badToken.stderr).toContain('请检查 FLEET_TOKEN 是否正确')

    const port = await freePort()
    const refused = await fleetctl(['cabinets', 'list'], { FLEET_URL: `http://127.0.0.1:${port}`, FLEET_TOKEN: 'x' }, true)
    expect(refused.code).toBe(1)
    expect(refused.stderr.trim()).toBe(`无法连接专柜管理平台 http://127.0.0.1:${port}（连接被拒绝，服务未启动或地址有误）`)

    const usage = await fleetctl(['cabinets', 'fly'], { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: fleet.adminToken })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('未知命令：cabinets fly')
    const noToken = await fleetctl(['rollout'], { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: '' })
    expect(noToken.code).toBe(2)
    expect(noToken.stderr).toContain('未设置 FLEET_TOKEN')
    const badOption = await fleetctl(['cabinets', 'list', '--colour', 'red'], { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: fleet.adminToken })
    expect(badOption.code).toBe(2)
    expect(badOption.stderr.split('\n')[0]).toBe('错误：参数有误：不认识的选项 “--colour”')
  })
})
