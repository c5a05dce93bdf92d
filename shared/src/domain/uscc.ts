// 统一社会信用代码 (unified social credit code), GB 32100-2015.
// 18 characters from a 31-character set (digits and capitals without I, O, S,
// V, Z): 1 registration authority, 1 entity type, 6 administrative division
// digits, 9 organisation code, 1 check character. Authority and entity-type
// codes are not restricted to a fixed list on purpose: registration authorities
// keep adding types (N1/N2/N3 rural collective economic organisations, among
// others, which list-based validators wrongly reject). The check character is
// what catches typos.

export const USCC_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY'
const WEIGHTS = Array.from({ length: 17 }, (_, i) => 3 ** i % 31)

export type UsccProblem = 'LENGTH' | 'CHARSET' | 'DIVISION' | 'CHECK'

/** The check character for the first 17 characters, or null if they are not in the set. */
export function usccCheckChar(first17: string): string | null {
  let sum = 0
  for (let i = 0; i < 17; i++) {
    const v = USCC_CHARSET.indexOf(first17[i] ?? '')
    if (v < 0) return null
    sum += v * WEIGHTS[i]!
  }
  const c = (31 - (sum % 31)) % 31
  return USCC_CHARSET[c]!
}

/** Why a code is not a valid 统一社会信用代码, or null when it is valid. */
export function usccProblem(code: string): UsccProblem | null {
  if (code.length !== 18) return 'LENGTH'
  for (const ch of code) if (!USCC_CHARSET.includes(ch)) return 'CHARSET'
  if (!/^\d{6}$/.test(code.slice(2, 8))) return 'DIVISION'
  return usccCheckChar(code.slice(0, 17)) === code[17] ? null : 'CHECK'
}

export function isValidUscc(code: string): boolean {
  return usccProblem(code) === null
}

const PROBLEM_TEXT: Record<UsccProblem, string> = {
  LENGTH: 'must be exactly 18 characters',
  CHARSET: 'may contain only digits and capital letters other than I, O, S, V, Z',
  DIVISION: 'characters 3-8 must be the 6-digit administrative division code',
  CHECK: 'check character (18th) does not match',
}

export function describeUsccProblem(p: UsccProblem): string {
  return PROBLEM_TEXT[p]
}

/**
 * The administrative division of the registering authority: characters 3–8
 * of a USCC (GB 32100-2015). A cooperative registered in 定远县 has 341125
 * there; certification is done by the county where the supplier is
 * registered (滁扶组〔2020〕9号: 县级扶贫部门认定).
 */
export function usccDivision(code: string): string {
  return code.slice(2, 8)
}
