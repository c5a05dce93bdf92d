// The sale batch schema's string patterns as the two fast decoders check them
// (fast-decode.ts on JSON.parse's strings, scan-batch.ts on the payload's
// bytes). Ids and hashes are checked by char code through a class table, not
// by regex: their characters are random hex, on which a regex's (or an if
// chain's) branches mispredict — /^[0-9a-f]{64}$/ took ~300 ns a hash, the
// table ~100 ns. Each check accepts exactly the strings of its pattern; the
// property tests in test/property/sale-decode.test.ts hold them to zod.

// Character classes, one bit each. Every pattern here is ASCII only: codes
// 128-255 have no class (a byte of UTF-8 above ASCII, or a char to be ruled out).
export const HEX_LOWER = 1 // 0-9 a-f
export const HEX = 2 // 0-9 a-f A-F
export const ID_FIRST = 4 // A-Z a-z 0-9
export const ID_REST = 8 // ID_FIRST and _ . -
export const SKU_REST = 16 // ID_REST and :
export const B64 = 32 // A-Z a-z 0-9 + /
export const ISO = 64 // 0-9 - : . T Z (the characters of an ISO UTC time)

export const CLASS = new Uint8Array(256)
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c)
  let bits = 0
  if (ch >= '0' && ch <= '9') bits |= HEX_LOWER | HEX | ID_FIRST | ID_REST | SKU_REST | B64 | ISO
  if (ch >= 'a' && ch <= 'f') bits |= HEX_LOWER | HEX
  if (ch >= 'A' && ch <= 'F') bits |= HEX
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) bits |= ID_FIRST | ID_REST | SKU_REST | B64
  if (ch === '_' || ch === '.' || ch === '-') bits |= ID_REST | SKU_REST
  if (ch === ':') bits |= SKU_REST
  if (ch === '+' || ch === '/') bits |= B64
  if ('-:.TZ'.includes(ch)) bits |= ISO
  CLASS[c] = bits
}

export const NIL_UUID = '00000000-0000-0000-0000-000000000000'
export const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff'

/**
 * zod 4's z.uuid() past its 8-4-4-4-12 hex layout: the char codes at 14
 * (version, 1-8) and 19 (variant, 8/9/a/b in either case). Otherwise only the
 * nil and max UUIDs pass.
 */
export function hasUuidVersionAndVariant(version: number, variant: number): boolean {
  const v = variant | 0x20 // lower case
  return version >= 0x31 && version <= 0x38 && (v === 0x38 || v === 0x39 || v === 0x61 || v === 0x62)
}

// zod 4's pattern for z.iso.datetime({ offset: false }). Kept as a regex: its
// input is digits in fixed places, which irregexp matches faster (~30 ns)
// than a char-code check with the calendar rules written out (~60 ns).
export const ISO_UTC = /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z))$/
