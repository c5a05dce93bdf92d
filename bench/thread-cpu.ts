// CPU time of one thread: the main thread of this process, or of another
// process by pid; and (schedCpuNs) of every thread of another process, in ns. process.threadCpuUsage() exists from Node 23.9 on; before
// that Linux has it in /proc/PID/task/TID/stat (the main thread's tid is the
// pid), in clock ticks.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let ticksPerS: number | null = null
function clockTicksPerS(): number {
  if (ticksPerS === null) {
    try {
      ticksPerS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerS = 100 // USER_HZ on every mainstream Linux build
    }
  }
  return ticksPerS
}

/** User + system CPU of process `pid`'s main thread, µs; null where /proc is not there. */
export function mainThreadCpuUs(pid: number = process.pid): number | null {
  const own = (process as unknown as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage
  if (pid === process.pid && typeof own === 'function') {
    const u = own()
    return u.user + u.system
  }
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(f[11]) + Number(f[12])
  return Number.isFinite(ticks) ? (ticks * 1e6) / clockTicksPerS() : null
}

/** CPU time of a process (all its threads) and of its main thread, ns; null without /proc schedstat. */
export function schedCpuNs(pid: number): { all: number; main: number } | null {
  try {
    let all = 0
    let main = 0
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let ns: number
      try {
        ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      } catch {
        continue // the thread ended between the listing and the read
      }
      all += ns
      if (tid === String(pid)) main = ns
    }
    return { all, main }
  } catch {
    return null
  }
}
