// Administrative divisions (GB/T 2260) the bundled plans use.
export interface County {
  code: string
  name: string
}

/** 滁州市 (341100) and its eight county-level divisions. */
export const CHUZHOU_COUNTIES: readonly County[] = [
  { code: '341102', name: '琅琊区' },
  { code: '341103', name: '南谯区' },
  { code: '341122', name: '来安县' },
  { code: '341124', name: '全椒县' },
  { code: '341125', name: '定远县' },
  { code: '341126', name: '凤阳县' },
  { code: '341181', name: '天长市' },
  { code: '341182', name: '明光市' },
]
