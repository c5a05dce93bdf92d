// What a broker answers a login it refuses: the CONNACK code (MQTT 3.1.1).
import { expect } from 'vitest'
import { connectMqtt } from './nats.js'

export const CONNACK_NOT_AUTHORIZED = 5 // MQTT 3.1.1 §3.2.2.3

/** Resolves with the CONNACK refusal code, or fails the test if the connect is accepted. */
export async function refusedCode(url: string, clientId: string, password: string): Promise<number | undefined> {
  const err = await connectMqtt(url, clientId, password).then(
    async (c) => {
      await c.endAsync(true)
      return undefined
    },
    (e: unknown) => e as { code?: number },
  )
  expect(err, 'connect was accepted').toBeDefined()
  return err!.code
}
