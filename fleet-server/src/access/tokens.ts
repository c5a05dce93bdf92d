// Bearer tokens: 256-bit random, base64url; stored only as SHA-256 hex. A fast
// hash is right for random machine secrets (nothing to brute-force).
import { createHash, randomBytes, scrypt } from 'node:crypto'

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
