// A tiny client for the fleet server's HTTP API, as an operator's script would use it.
import type { Sale } from '../../shared/src/index.js'

export interface ApiClient {
  get<T = Record<string, unknown>>(path: string): Promise<{ status: number; body: T }>
  post<T = Record<string, unknown>>(path: string, body: unknown): Promise<{ status: number; body: T }>
  patch<T = Record<string, unknown>>(path: string, body: unknown): Promise<{ status: number; body: T }>
}

export function apiClient(baseUrl: string, token: string): ApiClient {
  const call = async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(new URL(path, baseUrl), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    })
    const text = await res.text()
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T }
  }
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    patch: (path, body) => call('PATCH', path, body),
  }
}

export interface Provisioned {
  cabinetId: string
  mqtt: { username: string; password: string }
}

export async function provisionCabinet(api: ApiClient, body: Record<string, unknown> = { countyCode: '341125' }): Promise<Provisioned> {
  const r = await api.post<Provisioned>('/api/v1/cabinets', body)
  if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body
}

/** Every sale the server holds for a cabinet, read over the API page by page. */
export async function allServerSales(api: ApiClient, cabinetId: string): Promise<Sale[]> {
  const out: Sale[] = []
  let after = 0
  for (;;) {
    const r = await api.get<{ sales: Sale[]; nextAfterSeq: number | null }>(`/api/v1/cabinets/${cabinetId}/sales?afterSeq=${after}&limit=1000`)
    if (r.status !== 200) throw new Error(`GET sales of ${cabinetId}: ${r.status}`)
    out.push(...r.body.sales)
    if (r.body.nextAfterSeq === null) return out
    after = r.body.nextAfterSeq
  }
}
