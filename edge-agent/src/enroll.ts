// `edge-agent enroll`: trades a bootstrap code (issue 16) for the cabinet's
// MQTT credentials and registers the Ed25519 key generated here. Writes
// DIR/signing-key.pem (0600) and then DIR/credentials.json (0600), each
// atomically (temp file, fsync, rename): credentials.json exists only once
// both are whole, and it is what a later start reads (config.ts).
import { generateKeyPairSync } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { AppError, CabinetId, EnrollReply } from '../../shared/src/edge.js'

export const CREDENTIALS_FILE = 'credentials.json'
export const SIGNING_KEY_FILE = 'signing-key.pem'

/** DIR/credentials.json as enroll writes it. */
export const EnrolledCredentials = z.strictObject({
  v: z.literal(1),
  cabinetId: CabinetId,
  username: z.string().min(1),
  password: z.string().min(1),
  /** Broker URLs the server told; empty when it knows none (pass --server). */
  servers: z.array(z.string()),
  /** The fleet server the code was traded with. */
  http: z.string(),
  enrolledAt: z.string(),
})
export type EnrolledCredentials = z.infer<typeof EnrolledCredentials>

/** DIR's enrolled credentials; null when DIR holds none. Throws CONFIG_INVALID for an unreadable or malformed file. */
export function readCredentials(dataDir: string): EnrolledCredentials | null {
  const path = join(dataDir, CREDENTIALS_FILE)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new AppError('CONFIG_INVALID', `invalid configuration: ${path} is not readable: ${(err as Error).message}`, 400)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new AppError('CONFIG_INVALID', `invalid configuration: ${path} is not JSON; enroll again`, 400)
  }
  const r = EnrolledCredentials.safeParse(parsed)
  if (!r.success) throw new AppError('CONFIG_INVALID', `invalid configuration: ${path}: ${z.prettifyError(r.error)}`, 400)
  return r.data
}

export interface EnrollOptions {
  readonly code: string
  /** The fleet server's base URL, e.g. https://fleet.example.cn */
  readonly httpUrl: string
  readonly dataDir: string
  readonly now?: () => Date
}

/**
 * Thrown when enrollment fails; `messageZh` is for the installer (the
 * server's Chinese message when it refused the code).
 */
export class EnrollError extends Error {
  constructor(message: string, readonly messageZh: string, readonly code: string | null = null) {
    super(message)
    this.name = 'EnrollError'
  }
}

export async function enroll(opts: EnrollOptions): Promise<EnrolledCredentials> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const url = new URL('/api/v1/enroll', opts.httpUrl).toString()
  let res: Response
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: opts.code, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }),
      signal: AbortSignal.timeout(30_000),
    })
  } catch (err) {
    throw new EnrollError(`cannot reach ${url}: ${(err as Error).message}`, `无法连接平台服务器 ${opts.httpUrl}（${(err as Error).message}），请检查网络和地址`)
  }
  const text = await res.text()
  let body: unknown = null
  try {
    body = JSON.parse(text)
  } catch {
    // a proxy's HTML page: reported below with the status
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string } } | null)?.error
    throw new EnrollError(`enrollment refused: HTTP ${res.status} ${e?.code ?? ''}`, e?.message ?? `平台服务器拒绝登记（HTTP ${res.status}）`, e?.code ?? null)
  }
  const reply = EnrollReply.safeParse(body)
  if (!reply.success) throw new EnrollError(`unexpected enrollment reply from ${url}`, `平台服务器的应答格式不对（${url}）`)
  const creds: EnrolledCredentials = {
    v: 1,
    cabinetId: reply.data.cabinetId,
    username: reply.data.mqtt.username,
    password: reply.data.mqtt.password,
    servers: reply.data.servers,
    http: opts.httpUrl,
    enrolledAt: (opts.now ?? (() => new Date()))().toISOString(),
  }
  mkdirSync(opts.dataDir, { recursive: true })
  writeAtomically(join(opts.dataDir, SIGNING_KEY_FILE), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())
  writeAtomically(join(opts.dataDir, CREDENTIALS_FILE), `${JSON.stringify(creds, null, 2)}\n`)
  return creds
}

/** Temp file (0600), fsync, rename, fsync the directory: the file is either the old one or whole. */
function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  const dir = openSync(join(path, '..'), 'r')
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
}
