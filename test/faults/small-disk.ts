// A real small disk for the edge-disk-full scenario: a tmpfs of a few MiB
// (root only; elsewhere `mountSmallDisk` answers null and the scenario is
// skipped with its reason), filled with a filler file until ENOSPC and
// freed by deleting it.
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface SmallDisk {
  readonly dir: string
  /** Writes a filler file until the disk is full; returns the bytes it took. */
  fill(): number
  /** Deletes the filler: space is back. */
  free(): void
  unmount(): void
}

export function mountSmallDisk(sizeMiB: number): SmallDisk | { unavailable: string } {
  const dir = mkdtempSync(join(tmpdir(), 'faults-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    return { unavailable: `cannot mount a ${sizeMiB} MiB tmpfs (needs root): ${(err as Error).message.split('\n')[0]}` }
  }
  const filler = join(dir, 'filler')
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a')
      const chunk = Buffer.alloc(4096, 0xab)
      let bytes = 0
      try {
        for (;;) bytes += writeSync(fd, chunk)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      } finally {
        closeSync(fd)
      }
      return bytes
    },
    free() {
      unlinkSync(filler)
    },
    unmount() {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

/** Its data dir on the small disk (a subdirectory, so the mount point itself stays ours). */
export function dataDirOn(disk: SmallDisk, name: string): string {
  const d = join(disk.dir, name)
  mkdirSync(d, { recursive: true })
  return d
}
