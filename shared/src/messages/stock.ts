// A cabinet's stock by slot (issue 16 §3), on cabinets/{id}/up/stock: sent
// after a change (coalesced) and on every (re)connect. `rev` rises with every
// change the agent makes to its stock and is kept in its ledger, so the server
// keeps the newest report whatever order reports arrive in.
import { z } from 'zod'
import { CabinetId } from '../domain/ids.js'
import { IsoUtc } from '../domain/time.js'
import { MAX_PLANOGRAM_SLOTS, SlotId } from './command.js'
import { Sku } from './sale.js'

export const StockSlot = z.strictObject({
  slot: SlotId,
  sku: Sku,
  capacity: z.number().int().min(1).max(10_000),
  par: z.number().int().min(0).max(10_000),
  /** Units in the slot now (never below 0). */
  qty: z.number().int().min(0).max(10_000),
  /** Units sold from the slot when it was already empty, counted since the slot got its sku. */
  oversold: z.number().int().min(0),
})
export type StockSlot = z.infer<typeof StockSlot>

export const StockMsg = z.strictObject({
  v: z.literal(1),
  type: z.literal('stock'),
  cabinetId: CabinetId,
  sentAt: IsoUtc,
  /** Rises with every stock change on this agent; an older one than stored is ignored. */
  rev: z.number().int().min(0),
  slots: z.array(StockSlot).max(MAX_PLANOGRAM_SLOTS),
})
export type StockMsg = z.infer<typeof StockMsg>
