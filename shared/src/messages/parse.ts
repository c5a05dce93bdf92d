// Decoding an MQTT payload into a message, with the reject code a reply needs
// when it cannot be decoded. Size is checked before JSON parsing.
import { z } from 'zod'
import { Uuid } from '../domain/ids.js'
import type { RejectCode } from './reply.js'
import { MAX_MESSAGE_BYTES, MESSAGE_VERSION } from './limits.js'

export type Decoded<T> =
  | { ok: true; data: T }
  | { ok: false; code: Extract<RejectCode, 'BAD_MESSAGE' | 'MESSAGE_TOO_LARGE' | 'UNSUPPORTED_VERSION'>; message: string; batchId?: string }


export function decodeMessage<S extends z.ZodType>(schema: S, payload: Uint8Array, maxBytes = MAX_MESSAGE_BYTES): Decoded<z.infer<S>> {
  if (payload.byteLength > maxBytes) {
    return { ok: false, code: 'MESSAGE_TOO_LARGE', message: `payload is ${payload.byteLength} bytes; the limit is ${maxBytes}` }
  }
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'))
  } catch {
    return { ok: false, code: 'BAD_MESSAGE', message: 'payload is not valid JSON' }
  }
  // Echoed only when the reply schema takes it (the same Uuid), or the reply itself would be invalid.
  const claimed = typeof json === 'object' && json !== null ? (json as { batchId?: unknown }).batchId : undefined
  const batchId = Uuid.safeParse(claimed).success ? (claimed as string) : undefined
  const v = typeof json === 'object' && json !== null ? (json as { v?: unknown }).v : undefined
  if (v !== MESSAGE_VERSION) {
    return { ok: false, code: 'UNSUPPORTED_VERSION', message: `message version ${JSON.stringify(v) ?? 'missing'} is not supported; expected v=${MESSAGE_VERSION}`, ...(batchId && { batchId }) }
  }
  const r = schema.safeParse(json)
  if (!r.success) return { ok: false, code: 'BAD_MESSAGE', message: z.prettifyError(r.error), ...(batchId && { batchId }) }
  return { ok: true, data: r.data }
}

export function encodeMessage(msg: unknown): Buffer {
  return Buffer.from(JSON.stringify(msg))
}
