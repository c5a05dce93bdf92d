// What keeps a heap snapshot's array buffer memory alive: every backing store
// (JSArrayBufferData) grouped by size and by its first retainers' path, with
// indexes folded, largest groups first. A view (Buffer) of a larger read keeps
// the whole read: this is how retained presence payloads were found pinning
// ~95 MiB of socket reads in a backlog drain (issue 13, session 22).
//   node --max-old-space-size=6000 bench/micro/buffer-retainers.mjs FILE.heapsnapshot [depth=6]
// Snapshots: bench/micro/week-backlog.ts (WB_SNAP_EXTERNAL) or mem-probe.mjs.
import { readFileSync } from 'node:fs'
import process from 'node:process'
const s = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const depth = Number(process.argv[3] ?? 6)
const m = s.snapshot.meta, nf = m.node_fields.length, ef = m.edge_fields.length
const iT = m.node_fields.indexOf('type'), iN = m.node_fields.indexOf('name'), iE = m.node_fields.indexOf('edge_count'), iS = m.node_fields.indexOf('self_size')
const eT = m.edge_fields.indexOf('type'), eN = m.edge_fields.indexOf('name_or_index'), eTo = m.edge_fields.indexOf('to_node')
const nt = m.node_types[0], et = m.edge_types[0]
const N = s.nodes.length / nf
const firstEdge = new Uint32Array(N + 1)
for (let i = 0, e = 0; i < N; i++) { firstEdge[i] = e; e += s.nodes[i * nf + iE] * ef; firstEdge[i + 1] = e }
// reverse edges
const retainers = Array.from({ length: N }, () => [])
for (let i = 0; i < N; i++) for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += ef) {
  const t = et[s.edges[e + eT]]; if (t === 'weak') continue
  const to = s.edges[e + eTo] / nf
  const en = t === 'element' || t === 'hidden' ? `[${s.edges[e + eN]}]` : s.strings[s.edges[e + eN]]
  retainers[to].push([i, en])
}
const name = (i) => `${nt[s.nodes[i * nf + iT]]}:${s.strings[s.nodes[i * nf + iN]].slice(0, 40)}`
const groups = new Map(); let total = 0
for (let i = 0; i < N; i++) {
  if (name(i) !== 'native:system / JSArrayBufferData') continue
  const sz = s.nodes[i * nf + iS]; total += sz
  const path = []; let cur = i; const seen = new Set([i])
  for (let d = 0; d < depth; d++) {
    const rs = retainers[cur].filter(([r]) => !seen.has(r) && !name(r).startsWith('synthetic'))
    if (rs.length === 0) break
    const [r, en] = rs[0]; seen.add(r); path.push(`${en}<${name(r)}`); cur = r
  }
  const bucket = sz >= 65536 ? '>=64K' : sz >= 8192 ? '8-64K' : '<8K'
  const k = `${bucket} ${path.join(' ').replace(/\d+/g, '#')}`
  const g = groups.get(k) ?? [0, 0]; g[0]++; g[1] += sz; groups.set(k, g)
}
process.stdout.write(`total ArrayBuffer data MiB ${(total / 1048576).toFixed(1)}\n`)
for (const [k, [n, sz]] of [...groups].sort((a, b) => b[1][1] - a[1][1]).slice(0, 25)) process.stdout.write(`${(sz / 1048576).toFixed(1).padStart(6)} MiB ${String(n).padStart(6)} ${k}\n`)
