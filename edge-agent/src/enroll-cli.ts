// `edge-agent enroll --code CODE --http URL --data DIR`: the installer's one
// command on a new board. Messages are for the installer, in Chinese. Exit 0
// enrolled, 1 refused or unreachable, 2 wrong usage.
import { parseArgs } from 'node:util'
import { enroll, EnrollError } from './enroll.js'

export const ENROLL_USAGE = `用法：edge-agent enroll --code 引导码 --http https://平台服务器地址 --data 数据目录
  （也可用环境变量 EDGE_BOOTSTRAP_CODE、EDGE_HTTP、EDGE_DATA_DIR）`

export async function enrollCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values: { code?: string | undefined; http?: string | undefined; data?: string | undefined }
  try {
    values = parseArgs({ args: [...argv], options: { code: { type: 'string' }, http: { type: 'string' }, data: { type: 'string' } }, strict: true, allowPositionals: false }).values
  } catch (err) {
    process.stderr.write(`参数有误：${(err as Error).message}\n${ENROLL_USAGE}\n`)
    return 2
  }
  const code = values.code ?? (env.EDGE_BOOTSTRAP_CODE || undefined)
  const httpUrl = values.http ?? (env.EDGE_HTTP || undefined)
  const dataDir = values.data ?? (env.EDGE_DATA_DIR || undefined)
  const missing = [...(code ? [] : ['--code']), ...(httpUrl ? [] : ['--http']), ...(dataDir ? [] : ['--data'])]
  if (missing.length) {
    process.stderr.write(`缺少参数：${missing.join('、')}\n${ENROLL_USAGE}\n`)
    return 2
  }
  if (!URL.canParse(httpUrl!) || !/^https?:$/.test(new URL(httpUrl!).protocol)) {
    process.stderr.write(`--http 应为 http:// 或 https:// 开头的平台服务器地址，收到 “${httpUrl}”\n`)
    return 2
  }
  try {
    const creds = await enroll({ code: code!, httpUrl: httpUrl!, dataDir: dataDir! })
    process.stdout.write(`登记成功：专柜 “${creds.cabinetId}” 的凭据和签名密钥已写入 ${dataDir}\n`)
    if (creds.servers.length === 0) process.stdout.write('平台未告知消息服务器地址，启动时请用 --server 指定\n')
    return 0
  } catch (err) {
    if (err instanceof EnrollError) {
      process.stderr.write(`登记失败：${err.messageZh}\n`)
      return 1
    }
    process.stderr.write(`登记失败：${(err as Error).message}\n`)
    return 1
  }
}
