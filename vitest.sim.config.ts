import { defineConfig } from 'vitest/config'

// npm run test:sim: the simulator's whole-fleet rehearsals (real fleet server,
// worker processes of real edge agents, days of virtual trade). Each takes
// 30–60 s on two cores, so they run beside `npm test` in CI rather than in it,
// which keeps `npm test` well under ten minutes.
export const SIM_REHEARSALS = ['test/simulators/fleet.test.ts', 'test/simulators/fleet-enroll.test.ts', 'test/simulators/fleet-stock.test.ts']

export default defineConfig({
  test: {
    include: SIM_REHEARSALS,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
})
