// Mosquitto (Debian package) as the broker nobody here wrote. Started per test
// on a free port, with its own password file and a pattern ACL that confines
// each cabinet to cabinets/%u/... - the same rule our embedded broker enforces.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './process.js'

export const MOSQUITTO_BIN = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p))

export interface Mosquitto {
  url: string
  port: number
  addUser(username: string, password: string): Promise<void>
  close(): Promise<void>
  log(): string
}

export interface MosquittoOptions {
  /** Listen here instead of a fresh free port (a test that starts a client first). */
  port?: number
  /** PEM files: the listener speaks MQTT over TLS (url is mqtts://). */
  tls?: { certFile: string; keyFile: string }
}

export async function startMosquitto(users: Record<string, string>, opts: MosquittoOptions = {}): Promise<Mosquitto> {
  if (!MOSQUITTO_BIN) throw new Error('mosquitto is not installed (apt-get install mosquitto; .ci/run does this)')
  const dir = await mkdtemp(join(tmpdir(), 'mosq-'))
  const passwd = join(dir, 'passwd')
  const acl = join(dir, 'acl')
  const conf = join(dir, 'mosquitto.conf')
  const port = opts.port ?? (await freePort())
  await writeFile(passwd, '')
  const setPassword = (u: string, p: string) => execFileSync('mosquitto_passwd', ['-b', passwd, u, p], { stdio: 'pipe' })
  for (const [u, p] of Object.entries(users)) setPassword(u, p)
  await writeFile(
    acl,
    [
      '# the fleet server reads every uplink and writes every downlink',
      'user fleet-server',
      'topic readwrite cabinets/#',
      '',
      '# each cabinet: publish only its own uplink, read only its own downlink',
      'pattern write cabinets/%u/up/#',
      'pattern read cabinets/%u/down/#',
      '',
    ].join('\n'),
  )
  await writeFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      ...(opts.tls ? [`certfile ${opts.tls.certFile}`, `keyfile ${opts.tls.keyFile}`] : []),
      'allow_anonymous false',
      `password_file ${passwd}`,
      `acl_file ${acl}`,
      // The client id is the username: no cabinet can take over another's session.
      'use_username_as_clientid true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'user root',
      '',
    ].join('\n'),
  )
  const child: ChildProcess = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()))
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  // Wait until it accepts TCP connections.
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => (s.destroy(), resolve(true)))
      s.once('error', () => resolve(false))
    })
    if (ok) break
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`mosquitto did not start:\n${log}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    port,
    log: () => log,
    async addUser(u, p) {
      setPassword(u, p)
      child.kill('SIGHUP') // reloads the password file and ACL
      await new Promise((r) => setTimeout(r, 200))
    },
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
      await rm(dir, { recursive: true, force: true })
    },
  }
}
