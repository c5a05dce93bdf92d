import { describe, expect, it } from 'vitest'
import { USCC_CHARSET, isValidUscc, usccCheckChar, usccProblem } from '../../shared/src/index.js'

const withCheck = (first17: string) => first17 + usccCheckChar(first17)

describe('统一社会信用代码 (GB 32100-2015)', () => {
  it('accepts published real codes', () => {
    // Example printed in GB 32100-2015 and widely reproduced.
    expect(isValidUscc('91350100M000100Y43')).toBe(true)
    expect(isValidUscc('91110108551385082Q')).toBe(true)
  })

  it('accepts every registration-authority and entity-type pair, including N1/N2/N3 rural collectives', () => {
    for (const prefix of ['11', '12', '13', '19', '21', '29', '31', '32', '33', '34', '35', '39', '41', '49', '51', '52', '53', '59', '61', '62', '69', '71', '72', '79', '81', '89', '91', '92', '93', 'A1', 'A9', 'N1', 'N2', 'N3', 'N9', 'Y1']) {
      const code = withCheck(`${prefix}341125MA2T0X1K3`.slice(0, 17))
      expect(usccProblem(code), code).toBeNull()
    }
  })

  it('rejects a changed character, naming the check character as the problem', () => {
    expect(usccProblem('91350100M000100Y44')).toBe('CHECK')
    expect(usccProblem('91350100M000100Y4')).toBe('LENGTH')
    expect(usccProblem('91350100M000100YO3')).toBe('CHARSET')
    expect(usccProblem('9135A100M000100Y43')).toBe('DIVISION')
    expect(usccProblem('91350100m000100Y43')).toBe('CHARSET')
  })

  it('catches every single-character substitution', () => {
    const good = '91350100M000100Y43'
    for (let i = 0; i < 18; i++) {
      for (const ch of USCC_CHARSET) {
        if (ch === good[i]) continue
        const bad = good.slice(0, i) + ch + good.slice(i + 1)
        expect(isValidUscc(bad), bad).toBe(false)
      }
    }
  })
})
