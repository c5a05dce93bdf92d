// Backup file names and retention. A good backup is only ever a file named
// fleet-<UTC timestamp>Z.db (optionally -N when two land in one second); work in
// progress carries a different name, so listing and retention never see it.
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** Suffix of a backup still being written or verified; never listed, removed on the next run. */
export const PARTIAL_SUFFIX = '.partial'

const NAME = /^fleet-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)(?:-(\d+))?\.db$/

/** fleet-2026-12-05T02-00-00Z.db for that instant (UTC, whole seconds), `-N` for the N-th in the same second. */
export function backupName(at: Date, n = 1): string {
  const stamp = at.toISOString().slice(0, 19).replaceAll(':', '-')
  return `fleet-${stamp}Z${n > 1 ? `-${n}` : ''}.db`
}

export function isBackupName(name: string): boolean {
  return NAME.test(name)
}

/** Sort key: timestamp, then the same-second counter (the plain name is 1). */
function order(name: string): [string, number] {
  const m = NAME.exec(name)!
  return [m[1]!, m[2] ? Number(m[2]) : 1]
}

/** Good backups in `dir`, newest first; [] when the directory does not exist yet. */
export async function listBackups(dir: string): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return names.filter(isBackupName).sort((a, b) => {
    const [ta, na] = order(a)
    const [tb, nb] = order(b)
    return ta === tb ? nb - na : ta < tb ? 1 : -1
  })
}

/** Removes all but the newest `keep` backups; returns the names removed. */
export async function prune(dir: string, keep: number): Promise<string[]> {
  const old = (await listBackups(dir)).slice(keep)
  for (const name of old) await rm(join(dir, name), { force: true })
  return old
}

/** Removes leftovers of a backup that was interrupted (crash, kill) mid-way. */
export async function removePartials(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[])
  for (const name of names) if (name.endsWith(PARTIAL_SUFFIX)) await rm(join(dir, name), { force: true })
}
