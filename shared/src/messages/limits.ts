/** Largest MQTT payload the application accepts; larger gets MESSAGE_TOO_LARGE. */
export const MAX_MESSAGE_BYTES = 256 * 1024
/** Sales per batch message; the agent sends at most this many at once. */
export const MAX_BATCH_SALES = 500
/** Line items per sale. */
export const MAX_LINES_PER_SALE = 100
/** Current version of every message family. */
export const MESSAGE_VERSION = 1
