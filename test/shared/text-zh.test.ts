// The one zh-CN text source (issue 15): formatters in integers, labels for every
// enum value, and the dashboard's zh.js built from the same functions.
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { ALERT_KINDS, beijingZh, CABINET_STATUSES, dashboardTextScript, ERROR_CODES, LABELS_ZH, labelZh, percentBpZh, wanYuanZh, yuanZh } from '../../shared/src/index.js'

describe('shared zh-CN text', () => {
  it('formats fen as 元 and 万元 in integers, shares from basis points, instants in Beijing time', () => {
    expect(yuanZh(0)).toBe('0.00')
    expect(yuanZh(5)).toBe('0.05')
    expect(yuanZh(123456789)).toBe('1,234,567.89')
    expect(yuanZh(-100)).toBe('-1.00')
    // 5 亿元 = 50,000 万元; 9,007,199,254,740,991 fen stays exact.
    expect(wanYuanZh(50_000_000_000)).toBe('50,000.00 万元')
    expect(wanYuanZh(1_234_995_000)).toBe('1,235.00 万元')
    expect(wanYuanZh(Number.MAX_SAFE_INTEGER)).toBe('9,007,199,254.74 万元')
    expect(percentBpZh(5000)).toBe('50.00%')
    expect(percentBpZh(4312)).toBe('43.12%')
    expect(beijingZh('2020-09-30T16:05:00Z')).toBe('2020-10-01 00:05')
    expect(beijingZh(null)).toBe('—')
  })

  it('has a label for every cabinet status and alert kind, and falls back to the value for unknown ones', () => {
    for (const s of CABINET_STATUSES) expect(labelZh('cabinetStatus', s)).not.toBe(s)
    for (const k of ALERT_KINDS) expect(labelZh('alertKind', k)).not.toBe(k)
    expect(labelZh('cabinetStatus', 'nonsense')).toBe('nonsense')
    expect(labelZh('role', 'toString')).toBe('toString')
  })

  it('builds the dashboard\'s zh.js from the same labels, errors and formatters', () => {
    const window: { ZH?: Record<string, unknown> } = {}
    runInNewContext(dashboardTextScript(ERROR_CODES), { window })
    const zh = window.ZH as { labels: unknown; errors: unknown; yuanZh: (f: number) => string; percentBpZh: (b: number) => string; beijingZh: (i: string) => string; wanYuanZh: (f: number) => string }
    expect(zh.labels).toEqual(JSON.parse(JSON.stringify(LABELS_ZH)))
    expect(zh.errors).toEqual(ERROR_CODES)
    for (const fen of [0, 7, 99, 100, 123456789, -2501]) expect(zh.yuanZh(fen)).toBe(yuanZh(fen))
    expect(zh.wanYuanZh(1_234_995_000)).toBe(wanYuanZh(1_234_995_000))
    expect(zh.percentBpZh(4312)).toBe('43.12%')
    expect(zh.beijingZh('2020-09-30T16:05:00Z')).toBe('2020-10-01 00:05')
  })
})
