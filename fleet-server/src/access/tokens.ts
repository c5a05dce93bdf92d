// Bearer tokens: 256-bit random, base64url; stored only as SHA-256 hex. A fast
// hash is right for random machine secrets (nothing to brute-force).
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

export const generateToken = (): string => randomBytes(32).toString('base64url')

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex')

/** Human passwords do need a slow hash: scrypt, N=2^14, r=8, p=1, 16-byte salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, 32, { N: 16384, r: 8, p: 1 }, (err, k) => (err ? reject(err) : resolve(k))),
  )
  return `scrypt$16384$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`
}

const scryptAsync = (password: string, salt: Buffer, len: number, o: { N: number; r: number; p: number }) =>
  new Promise<Buffer>((resolve, reject) => scrypt(password, salt, len, { ...o, maxmem: 64 * 1024 * 1024 }, (err, k) => (err ? reject(err) : resolve(k))))

/** Checks a password against a hashPassword() string in constant time; false for anything malformed. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const salt = Buffer.from(parts[4]!, 'base64url')
  const expected = Buffer.from(parts[5]!, 'base64url')
  if (!Number.isInteger(N) || !Number.isInteger(r) || !Number.isInteger(p) || expected.length === 0) return false
  const key = await scryptAsync(password, salt, expected.length, { N, r, p })
  return timingSafeEqual(key, expected)
}

/** A stored hash for users without a password: verifying against it costs the same and always fails. */
export const NO_PASSWORD_HASH = `scrypt$16384$8$1$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(32).toString('base64url')}`
