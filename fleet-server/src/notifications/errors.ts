import { AppError, quoteZh } from '../../../shared/src/index.js'

/** Not found, or another user's (an admin sees all): indistinguishable on purpose. */
export const subscriptionNotFound = (id: string) =>
  new AppError('NOTIFY_SUBSCRIPTION_NOT_FOUND', `notification subscription ${id} not found`, 404, { subscriptionId: id }, quoteZh(id))
export const urlInvalid = (url: string) =>
  new AppError('NOTIFY_URL_INVALID', `webhook url must be http(s): ${url.slice(0, 200)}`, 400, { url: url.slice(0, 200) }, `收到 ${quoteZh(url.slice(0, 200))}`)
export const secretUnsupported = (format: string) =>
  new AppError('NOTIFY_SECRET_UNSUPPORTED', `a secret signs only dingtalk webhooks, not ${format}`, 400, { format }, `当前格式为 ${quoteZh(format)}`)
