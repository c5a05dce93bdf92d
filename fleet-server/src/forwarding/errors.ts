import { AppError, labelZh } from '../../../shared/src/index.js'

export const batchNotFound = (batchKey: string) =>
  new AppError('FORWARDING_BATCH_NOT_FOUND', `forwarding batch ${batchKey} not found; GET /api/v1/forwarding lists the failed ones`, 404, { batchKey }, `“${batchKey}”`)

export const batchNotFailed = (batchKey: string, state: string) =>
  new AppError('FORWARDING_BATCH_NOT_FAILED', `forwarding batch ${batchKey} is ${state}, not failed; only a failed batch can be retried`, 409, { batchKey, state }, `“${batchKey}” 的状态为${labelZh('forwardingState', state)}`)
