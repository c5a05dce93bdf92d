// A minimal ZIP writer (APPNOTE.TXT 6.3.x): deflated entries, UTF-8 names, no
// ZIP64, no encryption — enough for an Office Open XML workbook, without a
// dependency. Layout: [local header, data]… central directory, end record.
import { deflateRawSync } from 'node:zlib'

export interface ZipEntry {
  /** Path inside the archive, '/'-separated, no leading '/'. */
  readonly name: string
  readonly data: Buffer | string
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

/** CRC-32 (ISO 3309, the polynomial ZIP and gzip use). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const LIMIT = 0xffffffff // without ZIP64, sizes and offsets are 32-bit
const FLAG_UTF8 = 0x0800 // general purpose bit 11: names are UTF-8
const DEFLATE = 8
const VERSION = 20 // 2.0: deflate

/** MS-DOS date and time of the wall-clock fields of `d` read as UTC (callers shift to local time first). */
function dosDateTime(d: Date): { date: number; time: number } {
  const year = Math.min(Math.max(d.getUTCFullYear(), 1980), 2107)
  return {
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
  }
}

/**
 * The archive of `entries`, in order. `modified` is the wall-clock time the
 * entries carry (ZIP times have no zone); the same input gives the same bytes.
 */
export function zip(entries: readonly ZipEntry[], modified: Date = new Date(Date.UTC(1980, 0, 1))): Buffer {
  const { date, time } = dosDateTime(modified)
  const parts: Buffer[] = []
  const central: Buffer[] = []
  let offset = 0
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8')
    const raw = typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : e.data
    const packed = deflateRawSync(raw)
    const crc = crc32(raw)
    if (raw.length > LIMIT || packed.length > LIMIT || offset > LIMIT) throw new RangeError(`zip entry ${e.name} is too large for a ZIP without ZIP64`)

    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(VERSION, 4)
    local.writeUInt16LE(FLAG_UTF8, 6)
    local.writeUInt16LE(DEFLATE, 8)
    local.writeUInt16LE(time, 10)
    local.writeUInt16LE(date, 12)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(packed.length, 18)
    local.writeUInt32LE(raw.length, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28) // extra field length
    parts.push(local, name, packed)

    const cd = Buffer.alloc(46)
    cd.writeUInt32LE(0x02014b50, 0)
    cd.writeUInt16LE(VERSION, 4) // made by: MS-DOS attributes, 2.0
    cd.writeUInt16LE(VERSION, 6)
    cd.writeUInt16LE(FLAG_UTF8, 8)
    cd.writeUInt16LE(DEFLATE, 10)
    cd.writeUInt16LE(time, 12)
    cd.writeUInt16LE(date, 14)
    cd.writeUInt32LE(crc, 16)
    cd.writeUInt32LE(packed.length, 20)
    cd.writeUInt32LE(raw.length, 24)
    cd.writeUInt16LE(name.length, 28)
    // extra length, comment length, disk number, internal and external attributes: 0
    cd.writeUInt32LE(offset, 42)
    central.push(cd, name)

    offset += local.length + name.length + packed.length
  }
  const cdSize = central.reduce((n, b) => n + b.length, 0)
  if (entries.length > 0xffff || offset > LIMIT) throw new RangeError('zip archive too large for a ZIP without ZIP64')
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(cdSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...parts, ...central, end])
}
