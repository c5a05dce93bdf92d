// zod's issues in zh-CN (issue 15), for the messages users read when a request
// does not fit its schema. zod's own zh-CN locale leaves type names and
// origins in English ("期望 string，实际接收 undefined"), so this map says them
// in Chinese. Literal values (enum members, keys, formats) are quoted “…”.
import type { z } from 'zod'
import { quoteZh } from '../errors.js'

const TYPE_ZH: Readonly<Record<string, string>> = {
  string: '文本', number: '数字', int: '整数', bigint: '整数', boolean: '布尔值（“true” 或 “false”）', object: '对象', array: '数组',
  null: '空值', undefined: '空', date: '日期', nan: '非数字', symbol: '符号', function: '函数', map: '映射', set: '集合', file: '文件',
}
const typeZh = (t: string): string => TYPE_ZH[t] ?? quoteZh(t)

const FORMAT_ZH: Readonly<Record<string, string>> = {
  date: `日期（${quoteZh('YYYY-MM-DD')}）`,
  datetime: `带时区的时间（如 ${quoteZh('2020-09-30T10:00:00Z')}）`,
  time: `时刻（${quoteZh('HH:MM:SS')}）`,
  uuid: 'UUID', uuidv4: 'UUID', uuidv6: 'UUID', uuidv7: 'UUID', guid: 'UUID',
  email: '电子邮箱地址', url: 'URL', ipv4: '“IPv4” 地址', ipv6: '“IPv6” 地址', base64: '“base64” 编码文本',
}

const kindOf = (input: unknown): string =>
  input === null ? 'null' : Array.isArray(input) ? 'array' : Number.isNaN(input) ? 'nan' : typeof input

const list = (values: readonly unknown[]): string => values.map(quoteZh).join('、')

/** The Chinese sentence for one raw issue (undefined: never; every code has one). */
export const zodIssueZh: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `必填（须为${typeZh(issue.expected)}）`
      // A query's "abc" coerced to a number arrives as NaN: the type is what to say.
      if (Number.isNaN(issue.input)) return `须为${typeZh(issue.expected)}`
      return `须为${typeZh(issue.expected)}，收到的是${typeZh(kindOf(issue.input))}`
    case 'invalid_value':
      return issue.values.length === 1 ? `须为 ${quoteZh(issue.values[0])}` : `须为 ${list(issue.values)} 之一`
    case 'too_big': {
      const n = String(issue.maximum)
      if (issue.origin === 'string') return `最多 ${n} 个字符`
      if (issue.origin === 'array' || issue.origin === 'set') return `最多 ${n} 项`
      if (issue.origin === 'file') return `最大 ${n} 字节`
      return issue.inclusive ? `不能大于 ${n}` : `须小于 ${n}`
    }
    case 'too_small': {
      const n = String(issue.minimum)
      if (issue.origin === 'string') return n === '1' ? '不能为空' : `至少 ${n} 个字符`
      if (issue.origin === 'array' || issue.origin === 'set') return `至少 ${n} 项`
      return issue.inclusive ? `不能小于 ${n}` : `须大于 ${n}`
    }
    case 'invalid_format':
      if (issue.format === 'starts_with' && 'prefix' in issue) return `须以 ${quoteZh(issue.prefix)} 开头`
      if (issue.format === 'ends_with' && 'suffix' in issue) return `须以 ${quoteZh(issue.suffix)} 结尾`
      if (issue.format === 'includes' && 'includes' in issue) return `须包含 ${quoteZh(issue.includes)}`
      return FORMAT_ZH[issue.format] ? `须为${FORMAT_ZH[issue.format]}` : '格式不正确'
    case 'not_multiple_of':
      return `须为 ${String(issue.divisor)} 的倍数`
    case 'unrecognized_keys':
      return `不接受的字段 ${list(issue.keys)}`
    case 'invalid_union':
      return '不符合任何一种允许的格式'
    case 'invalid_key':
      return '含有不合法的键'
    case 'invalid_element':
      return '含有不合法的值'
    default:
      return '不合法'
  }
}

/** "items.0.sku" as users read it: “items[0].sku”; empty for the request as a whole. */
export function fieldPathZh(path: readonly PropertyKey[]): string {
  let out = ''
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out ? `.${String(k)}` : String(k)
  return out
}

/** Every issue on its own line: "字段 “venueType”：须为 …". */
export function zodErrorZh(error: z.core.$ZodError): string {
  return error.issues.map((i) => (i.path.length ? `字段 ${quoteZh(fieldPathZh(i.path))}：${i.message}` : i.message)).join('；\n')
}
