// The leader seam of a scheduled job (issue 13): with replicas, each tick
// asks the gate, and only the process that leads runs the job.
import cron from 'node-cron'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { startCronJob } from '../../../fleet-server/src/jobs/cron-job.js'

const log = pino({ level: 'silent' })
const taskOf = (name: string) => [...cron.getTasks().values()].find((t) => t.name === name)

describe('cron job leader gate', () => {
  it('runs at every tick without a gate', async () => {
    let runs = 0
    const job = startCronJob({ expression: '0 3 * * *', name: 'no-gate', label: 'test job', log, run: async () => void runs++ })
    try {
      await taskOf('no-gate')!.execute()
      await taskOf('no-gate')!.execute()
      expect(runs).toBe(2)
    } finally {
      await job.close()
    }
  })

  it('skips a tick while the gate says another process leads, and runs once it leads', async () => {
    let runs = 0
    let leads = false
    let asked = 0
    const job = startCronJob({
      expression: '0 3 * * *',
      name: 'gated',
      label: 'test job',
      log,
      run: async () => void runs++,
      isLeader: async () => {
        asked++
        return leads
      },
    })
    try {
      await taskOf('gated')!.execute()
      expect([asked, runs]).toEqual([1, 0])
      leads = true
      await taskOf('gated')!.execute()
      expect([asked, runs]).toEqual([2, 1])
    } finally {
      await job.close()
    }
  })

  it('skips a tick when the gate fails: a job run twice is worse than one run late', async () => {
    let runs = 0
    const job = startCronJob({
      expression: '0 3 * * *',
      name: 'failing-gate',
      label: 'test job',
      log,
      run: async () => void runs++,
      isLeader: () => Promise.reject(new Error('connection lost')),
    })
    try {
      await taskOf('failing-gate')!.execute()
      expect(runs).toBe(0)
    } finally {
      await job.close()
    }
  })
})
