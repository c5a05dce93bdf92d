// Cabinet MQTT secrets (issue 12, finding 6): 192 random bits that the agent's
// command line can always take.
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../../edge-agent/src/index.js'
import { generateCabinetSecret } from '../../../fleet-server/src/cabinets/index.js'

describe('cabinet secrets', () => {
  it('never begin with "-" and keep 24 random bytes', () => {
    // Unfixed, about 1 in 64 begins with '-': 10,000 draws miss that with
    // probability (63/64)^10000 ≈ 1e-68.
    const secrets = Array.from({ length: 10_000 }, generateCabinetSecret)
    expect(secrets.filter((s) => s.startsWith('-'))).toEqual([])
    for (const s of secrets.slice(0, 100)) expect(Buffer.from(s, 'base64url')).toHaveLength(24)
    expect(new Set(secrets).size).toBe(secrets.length)
  })

  it('reach the agent intact as --password=VALUE even when they begin with "-"', () => {
    const c = loadConfig({}, ['--cabinet', 'C1', '--data', '/tmp/x', '--password=-abc_DEF-1', '--api-port', '0'])
    expect(c.password).toBe('-abc_DEF-1')
  })
})
