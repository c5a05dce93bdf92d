// Issue 16 §2: what an enrolled cabinet signs for each sale batch. Each sale's
// chain hash already covers its content and the hash before it, so signing the
// hashes in order binds the records and their chain; cabinetId and batchId
// bind the signature to this cabinet and this message. The rendering is part
// of the protocol (v1): the agent signs it, the server and the auditor's
// verifier check it.
import * as crypto from 'node:crypto'

/** Length of a base64 Ed25519 signature (64 bytes). */
export const SIGNATURE_B64_LENGTH = 88

/** The canonical bytes signed for a batch: `sig1`, cabinetId, batchId, then each sale's hash, newline-separated. */
export function signedBatchBytes(cabinetId: string, batchId: string, hashes: readonly string[]): Buffer {
  return Buffer.from(`sig1\n${cabinetId}\n${batchId}\n${hashes.join('\n')}`, 'utf8')
}

/** Base64 Ed25519 signature of the batch by `privateKey`. */
export function signBatch(privateKey: crypto.KeyObject, cabinetId: string, batchId: string, hashes: readonly string[]): string {
  return crypto.sign(null, signedBatchBytes(cabinetId, batchId, hashes), privateKey).toString('base64')
}

/** Whether `sig` (base64) is the batch's signature by `publicKey`. False for a malformed signature, never a throw. */
export function verifyBatch(publicKey: crypto.KeyObject, cabinetId: string, batchId: string, hashes: readonly string[], sig: string): boolean {
  const raw = Buffer.from(sig, 'base64')
  if (raw.length !== 64) return false
  try {
    return crypto.verify(null, signedBatchBytes(cabinetId, batchId, hashes), publicKey, raw)
  } catch {
    return false
  }
}
