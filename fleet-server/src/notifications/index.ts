// Notifications: users' webhook subscriptions to alerts, the outbox written
// with each raise and clear, and its delivery with retries and digests.
export { notificationsModule, type NotificationsModule } from './module.js'
export { DEFAULT_NOTIFICATIONS, type NotificationOptions } from './delivery.js'
export { dingtalkSignedUrl } from './format.js'
