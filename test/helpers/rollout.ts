// Builders for rollout tests: a settable clock, placement-list CSV, users.
import { expect } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { api } from './fleet.js'

export interface Clock {
  now: () => Date
  set(iso: string): void
}

/** A clock tests move by hand; starts at `iso`. */
export function clockAt(iso: string): Clock {
  let t = new Date(iso)
  return { now: () => new Date(t), set: (s) => void (t = new Date(s)) }
}

export const CSV_HEADER = 'cabinetId,countyCode,operator,siteName,siteAddress,venueType,latitude,longitude,status'

const VENUES = ['机关', '社区', '商场', '高校', '医院', '企业', '车站', '机场', '景区'] as const

/** One placement-list row; a site is filled in for every status past planned. */
export function csvRow(cabinetId: string, countyCode: string, status: string, operator = ''): string {
  const n = Number(cabinetId.replace(/\D/g, '').slice(-4)) || 0
  const site = status === 'planned' ? ['', '', '', '', ''] : [`"点位${cabinetId}，一号门"`, `"${countyCode}某路${n}号"`, VENUES[n % VENUES.length]!, '32.5', '118.3']
  return [cabinetId, countyCode, operator, ...site, status].join(',')
}

/** `count` rows of one county and status, ids `${prefix}-${county}-nnnnn` from `start`. */
export function csvRows(countyCode: string, status: string, count: number, start = 1, prefix = 'C'): string[] {
  return Array.from({ length: count }, (_, i) => csvRow(`${prefix}-${countyCode}-${String(start + i).padStart(5, '0')}`, countyCode, status))
}

export async function importCsv(fleet: Fleet, rows: readonly string[], opts: { partial?: boolean; token?: string } = {}) {
  const res = await fleet.http.inject({
    method: 'POST',
    url: `/api/v1/cabinets/import${opts.partial ? '?partial=true' : ''}`,
    headers: { authorization: `Bearer ${opts.token ?? fleet.adminToken}`, 'content-type': 'text/csv' },
    payload: [CSV_HEADER, ...rows].join('\n'),
  })
  return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> & { imported?: number; cabinets?: Array<{ cabinetId: string; mqtt: { username: string; password: string } }> } }
}

export async function userToken(fleet: Fleet, body: Record<string, unknown>): Promise<string> {
  const r = await api<{ token: string }>(fleet, 'POST', '/api/v1/users', body)
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body.token
}

export interface CountyRow {
  code: string
  name: string
  quota: number
  sitesAssigned: number
  installed: number
  operating: number
  online: number
  onlineNotInstalled: number
  next: { milestoneId: string; state: string; onTrack: boolean; projectedDate: string | null; remaining: number; pacePerDay: number } | null
  milestones: Array<{ milestoneId: string; state: string; onTrack: boolean; projectedDate: string | null; remaining: number }>
}

export interface Rollout {
  scope: { kind: string; code: string | null; name: string }
  counties: CountyRow[]
  totals: { quota: number; sitesAssigned: number; installed: number; operating: number; online: number; onlineNotInstalled: number }
  milestones: Array<{ id: string; date: string; state: string; countiesMet: number }>
}

export async function rollout(fleet: Fleet, token?: string): Promise<Rollout> {
  const r = await api<Rollout>(fleet, 'GET', '/api/v1/rollout', undefined, token ?? fleet.adminToken)
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return r.body
}
