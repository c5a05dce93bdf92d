// Plans bundled with the software, by name. FLEET_PLAN may also name a file.
import { parsePlan, type Plan } from '../domain/plan.js'
import chuzhou2020 from './chuzhou-2020.json' with { type: 'json' }

export const BUNDLED_PLANS: Readonly<Record<string, Plan>> = Object.freeze({
  'chuzhou-2020': parsePlan(chuzhou2020, 'bundled:chuzhou-2020'),
})
