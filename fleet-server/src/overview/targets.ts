// Targets of the plan (issue 15) against what was reached: which targets a
// scope sees, and a target's pace and projection on a straight line from its
// start date. Pure: the figures are read by the caller.
import type { Plan, PlanTarget, TargetState } from '../../../shared/src/index.js'
import { daysBetween } from '../compliance/index.js'

/** Whose targets: the city (all), one county, or one operator (its units'). */
export type TargetViewer = { readonly kind: 'city' } | { readonly kind: 'county'; readonly code: string } | { readonly kind: 'operator'; readonly operator: string }

/**
 * The targets a viewer sees: the city every one; a county those set for it
 * (a city-wide figure would reveal the other counties' sum); an operator the
 * units' whose sales are its cabinets'.
 */
export function targetsFor(plan: Plan, viewer: TargetViewer): PlanTarget[] {
  return plan.targets.filter((t) => {
    if (viewer.kind === 'city') return true
    if (viewer.kind === 'county') return t.scope.kind === 'county' && t.scope.code === viewer.code
    return t.scope.kind === 'unit' && t.scope.operator === viewer.operator
  })
}

/** The last day a target's figure is measured to, as of `asOf`. */
export const measuredTo = (t: PlanTarget, asOf: string): string => (asOf < t.dueDate ? asOf : t.dueDate)

export interface TargetPace {
  readonly expectedByNow: number
  readonly projected: number
  readonly onTrack: boolean
  readonly state: TargetState
}

/**
 * Linear pace: 0 on the day before startDate, the target at the end of
 * dueDate; days counted inclusive in the Asia/Shanghai calendar. The
 * projection carries the pace so far (actual per elapsed day) to the due
 * date; after the due date it is the actual. Integer arithmetic (BigInt):
 * fen figures times days pass 2^53.
 */
export function targetPace(target: number, actual: number, startDate: string, dueDate: string, asOf: string): TargetPace {
  const total = daysBetween(startDate, dueDate) + 1
  const elapsed = Math.max(0, Math.min(total, daysBetween(startDate, asOf) + 1))
  const scaled = (x: number, num: number, den: number) => Number((BigInt(x) * BigInt(num)) / BigInt(den))
  const expectedByNow = scaled(target, elapsed, total)
  const projected = elapsed === 0 ? actual : scaled(actual, total, elapsed)
  const isMet = actual >= target
  const state: TargetState = isMet ? 'met' : asOf <= dueDate ? 'due' : 'missed'
  return { expectedByNow, projected, onTrack: isMet || (state === 'due' && projected >= target), state }
}
