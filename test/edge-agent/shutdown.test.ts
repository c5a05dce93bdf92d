// The edge agent under `npm run edge-agent` stopped as a supervisor does it
// (issue 12): SIGTERM twice to the process group → exit 0, and the sale it
// acknowledged is still on disk at the next start.
import { describe, expect, it } from 'vitest'
import { startNpmScript } from '../helpers/process-group.js'
import { aSale, tempDir } from './helpers.js'

const NO_BROKER = 'mqtt://127.0.0.1:1'

describe('edge agent shutdown under npm', () => {
  it('exits 0 on SIGTERM twice to the process group and keeps the acknowledged sale', async () => {
    const dir = await tempDir()
    const args = ['--cabinet', 'C1', '--data', dir, '--server', NO_BROKER, '--api-port', '0']
    const agent = await startNpmScript('edge-agent', args, { LOG_LEVEL: 'info' })
    const sold = await fetch(`http://127.0.0.1:${agent.ready.api as number}/sales`, { method: 'POST', body: JSON.stringify(aSale()) })
    expect(sold.status).toBe(201)
    const { seq } = (await sold.json()) as { seq: number }

    const t0 = Date.now()
    // npm forwards the group's signal to node as well: node gets each one twice.
    expect(agent.signalGroup('SIGTERM')).toBe(true)
    // At once, while node surely still runs: a signal that reaches npm after node has
    // exited (a shutdown faster than the gap) ends npm by that signal, not by node's code.
    expect(agent.signalGroup('SIGTERM')).toBe(true)
    expect(await agent.exited, agent.stderr()).toBe(0)
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(agent.lines.some((l) => l.includes('"msg":"edge agent stopped"'))).toBe(true)
    expect(agent.lines.filter((l) => l.includes('signal ignored')).length).toBeLessThanOrEqual(1)

    const again = await startNpmScript('edge-agent', args, { LOG_LEVEL: 'warn' })
    const status = (await (await fetch(`http://127.0.0.1:${again.ready.api as number}/status`)).json()) as { lastSeq: number; pending: number }
    expect(status).toMatchObject({ lastSeq: seq, pending: 1 })
    again.signalGroup('SIGTERM')
    expect(await again.exited).toBe(0)
  })
})
