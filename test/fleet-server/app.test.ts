// buildFleet() as a whole: start-up failures, the plan kept across starts.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { BUNDLED_PLANS } from '../../shared/src/index.js'
import { freePort } from '../helpers/process.js'
import { startFleet, tempDir } from '../helpers/fleet.js'

function capture() {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    },
  })
  return { lines, logger: pino({ level: 'info' }, stream) }
}

describe('buildFleet', () => {
  it('fails to start when the HTTP port is taken, releasing the MQTT port and database it opened', async () => {
    const a = await startFleet()
    const dataDir = await tempDir()
    const mqttPort = String(await freePort())
    await expect(startFleet({ FLEET_HTTP_PORT: String(a.httpPort), FLEET_MQTT_PORT: mqttPort }, { dataDir })).rejects.toThrow(/EADDRINUSE/)
    const b = await startFleet({ FLEET_MQTT_PORT: mqttPort }, { dataDir })
    expect(b.mqttPort).toBe(Number(mqttPort))
  })

  it('stores the plan on first start and keeps it, with a warning, when FLEET_PLAN later differs', async () => {
    const dataDir = await tempDir()
    const planFile = join(dataDir, 'plan.json')
    writeFileSync(planFile, JSON.stringify({ ...BUNDLED_PLANS['chuzhou-2020']!, id: 'pilot-plan' }))
    const first = await startFleet({ FLEET_PLAN: planFile }, { dataDir, manualClose: true })
    expect(first.plan.id).toBe('pilot-plan')
    await first.close()

    const { lines, logger } = capture()
    const second = await startFleet({ FLEET_PLAN: 'chuzhou-2020' }, { dataDir, logger })
    expect(second.plan.id).toBe('pilot-plan')
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, stored: 'pilot-plan', configured: 'chuzhou-2020' }))
  })
})
