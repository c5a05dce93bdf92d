// `fleetctl nats init` (#14): a new deployment's identity file and the trust
// part of every node's config. A real nats-server that includes the trust file
// takes a cabinet JWT signed from the identity file; a second init refuses to
// replace either file.
import { spawn } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { run } from '../../../fleet-server/src/cli/fleetctl.js'
import { createNatsIdentity, parseNatsIdentityFile } from '../../../fleet-server/src/nats/index.js'
import { tempDir } from '../../helpers/fleet.js'
import { connectMqtt, NATS_SERVER_BIN, NO_NATS_SERVER } from '../../helpers/nats.js'
import { freePort } from '../../helpers/process.js'


function capture() {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) } }
}

describe.skipIf(NO_NATS_SERVER)('fleetctl nats init', () => {
  it('writes an identity file and a trust config a real node takes, and never writes them twice', async () => {
    const dir = await tempDir('nats-init-')
    const first = capture()
    expect(await run(['nats', 'init', '--out', dir], {}, first.io)).toBe(0)
    expect(first.out.join('\n')).toContain('nats-identity.json')
    const identityFile = join(dir, 'nats-identity.json')
    expect((await stat(identityFile)).mode & 0o777).toBe(0o600)
    const identity = createNatsIdentity(parseNatsIdentityFile(JSON.parse(await readFile(identityFile, 'utf8'))))

    // One node as an operator would configure it, including the trust file.
    const [client, mqtt, http] = [await freePort(), await freePort(), await freePort()]
    const conf = join(dir, 'node.conf')
    await writeFile(conf, [
      `listen: "127.0.0.1:${client}"`, `http: "127.0.0.1:${http}"`, 'server_name: "n1"',
      `jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))}, max_file_store: 256MB, max_memory_store: 64MB }`,
      `mqtt { listen: "127.0.0.1:${mqtt}" }`,
      `resolver { type: full, dir: ${JSON.stringify(join(dir, 'jwt'))}, allow_delete: true }`,
      'include "nats-trust.conf"', '',
    ].join('\n'))
    const node = spawn(NATS_SERVER_BIN!, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    let log = ''
    node.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    onTestFinished(() => void node.kill('SIGKILL'))
    await vi.waitFor(async () => expect((await fetch(`http://127.0.0.1:${http}/healthz?js-server-only=true`)).ok, log).toBe(true), { timeout: 20_000, interval: 100 })

    const cabinetId = '341125-00001'
    const { jwt } = await identity.issueCabinetUser(cabinetId)
    // The first MQTT connect of an account makes its streams: retried, as a cabinet would.
    await vi.waitFor(async () => {
      const c = await connectMqtt(`mqtt://127.0.0.1:${mqtt}`, cabinetId, jwt)
      await c.endAsync(true)
    }, { timeout: 30_000, interval: 500 })

    const before = await readFile(identityFile, 'utf8')
    const again = capture()
    expect(await run(['nats', 'init', '--out', dir], {}, again.io)).toBe(1)
    expect(again.err.join('\n')).toMatch(/已存在/)
    expect(await readFile(identityFile, 'utf8')).toBe(before)
  })

  it('wants --out', async () => {
    const c = capture()
    expect(await run(['nats', 'init'], {}, c.io)).toBe(2)
    expect(c.err.join('\n')).toMatch(/--out/)
  })
})
