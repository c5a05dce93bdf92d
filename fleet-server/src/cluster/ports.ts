// Loopback ports for the local cluster's servers (#14). nats-server and
// postgres cannot report a port they chose, so we pick free ones; a bind that
// loses the race to another process is retried by the caller on new ports.
import { once } from 'node:events'
import { createServer } from 'node:net'

/** A 127.0.0.1 port that was free a moment ago (0: the kernel's choice). */
export async function freePort(): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const addr = srv.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

/** Whether 127.0.0.1:port can be bound now (a port kept from the last start of a --data cluster). */
export async function isPortFree(port: number): Promise<boolean> {
  const srv = createServer()
  try {
    srv.listen(port, '127.0.0.1')
    await once(srv, 'listening')
    return true
  } catch {
    return false
  } finally {
    await new Promise<void>((r) => srv.close(() => r()))
  }
}

/** The wanted port when it is free, else a fresh one. */
export async function portOr(wanted: number | undefined): Promise<number> {
  return wanted !== undefined && (await isPortFree(wanted)) ? wanted : freePort()
}

export const BIND_FAILED = /address already in use|could not bind/i
