// @fastify/helmet on every answer (issue 12, finding 4), with the dashboard
// keeping its own CSP (scripts and styles from itself).
import { describe, expect, it } from 'vitest'
import { startFleet } from '../../helpers/fleet.js'

describe('security headers', () => {
  it('sends helmet headers on API answers, errors, /healthz, /metrics and the dashboard; the dashboard keeps its CSP', async () => {
    const fleet = await startFleet()
    const admin = { authorization: `Bearer ${fleet.adminToken}` }
    const answers = {
      api: await fleet.http.inject({ method: 'GET', url: '/api/v1/me', headers: admin }),
      unauthorized: await fleet.http.inject({ method: 'GET', url: '/api/v1/me' }),
      invalid: await fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets', headers: admin, payload: { countyCode: 1 } }),
      unsupported: await fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets', headers: { ...admin, 'content-type': 'text/plain' }, payload: '{}' }),
      notFound: await fleet.http.inject({ method: 'GET', url: '/nowhere' }),
      healthz: await fleet.http.inject({ method: 'GET', url: '/healthz' }),
      metrics: await fleet.http.inject({ method: 'GET', url: '/metrics' }),
      openapi: await fleet.http.inject({ method: 'GET', url: '/openapi.json' }),
      dashboard: await fleet.http.inject({ method: 'GET', url: '/dashboard/' }),
      dashboardScript: await fleet.http.inject({ method: 'GET', url: '/dashboard/app.js' }),
    }
    for (const [name, res] of Object.entries(answers)) {
      expect(res.headers, name).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'strict-transport-security': expect.stringMatching(/max-age=\d+/),
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        'referrer-policy': 'no-referrer',
        'x-dns-prefetch-control': 'off',
        'x-permitted-cross-domain-policies': 'none',
        'content-security-policy': expect.stringContaining("frame-ancestors 'none'"),
      })
    }
    expect(answers.api.headers['content-security-policy']).toMatch(/^default-src 'none'/)
    for (const page of [answers.dashboard, answers.dashboardScript]) {
      expect(page.statusCode).toBe(200)
      expect(page.headers['content-security-policy']).toMatch(/^default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'/)
    }
  })
})
