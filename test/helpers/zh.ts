// Checks that text users read is Chinese (issue 15).

/** Latin words a Chinese message may carry: names of formats, units and products. */
const ALLOWED_WORDS = new Set(['CSV', 'XLSX', 'JSON', 'UTF', 'URL', 'UUID', 'MiB', 'PostgreSQL'])

/**
 * English words left in a message once literal tokens are set aside: values,
 * ids, field names and codes are quoted “…”. A quoted token has no spaces, so
 * an English sentence cannot hide in quotes (test inputs must have none).
 */
export function englishWords(message: string): string[] {
  const words = message.replace(/“[^”\s]*”/g, '').match(/[A-Za-z]{3,}/g) ?? []
  return words.filter((w) => !ALLOWED_WORDS.has(w))
}

export const hasHan = (s: string): boolean => /\p{Script=Han}/u.test(s)
