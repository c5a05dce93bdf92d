// Who may see and change what. Roles: admin (city, everything), auditor (city,
// read-only), county (cabinets of its county), operator (cabinets of its
// operating company). An object outside the caller's scope is reported as not
// found, so the caller learns nothing about it; an action the role may not
// take on an object it can see is ACCESS_OUT_OF_SCOPE.
import { labelZh, type Role } from '../../../shared/src/index.js'
import { outOfScope } from './errors.js'

export interface Principal {
  readonly userId: string
  readonly username: string
  readonly role: Role
  readonly countyCode: string | null
  readonly operator: string | null
}

export interface CabinetScopeTarget {
  readonly countyCode: string
  readonly operator: string | null
}

/** SQL-ready filter for lists: what the principal may see (empty = everything). */
export interface CabinetScope {
  readonly countyCode?: string
  readonly operator?: string
}

export function isCityWide(p: Principal): boolean {
  return p.role === 'admin' || p.role === 'auditor'
}

export function canSeeCabinet(p: Principal, c: CabinetScopeTarget): boolean {
  switch (p.role) {
    case 'admin':
    case 'auditor':
      return true
    case 'county':
      return p.countyCode !== null && c.countyCode === p.countyCode
    case 'operator':
      return p.operator !== null && c.operator === p.operator
  }
}

/** A user without its county or operator sees nothing: a code no cabinet has (not NUL, which PostgreSQL text cannot bind). */
export function cabinetScope(p: Principal): CabinetScope {
  if (p.role === 'county') return { countyCode: p.countyCode ?? '\u0001none' }
  if (p.role === 'operator') return { operator: p.operator ?? '\u0001none' }
  return {}
}

/** Provisioning: the city administrator anywhere, a county official in its own county. */
export function assertMayCreateCabinet(p: Principal, countyCode: string): void {
  if (p.role === 'admin') return
  if (p.role === 'county' && p.countyCode === countyCode) return
  throw outOfScope(
    p.role === 'county' ? `a county user of ${p.countyCode} may create cabinets only in that county, not in ${countyCode}` : `role ${p.role} may not create cabinets`,
    p.role === 'county' ? `县区用户只能在本县区（“${p.countyCode}”）新建专柜，不能在 “${countyCode}”` : `${labelZh('role', p.role)}不能新建专柜`,
  )
}

/** Site, status and credential changes on a cabinet the principal can see. Auditors only read. */
export function assertMayChangeCabinet(p: Principal): void {
  if (p.role === 'auditor') throw outOfScope('role auditor is read-only', '审计账号只读')
}

export function assertAdmin(p: Principal, action: string): void {
  if (p.role !== 'admin') throw outOfScope(`only an admin may ${action}; you are ${p.role}`, `仅市级管理员可以执行此操作，当前角色为${labelZh('role', p.role)}`)
}
