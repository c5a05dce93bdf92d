// Objects of a V8 heap snapshot grouped by shape: plain objects and arrays by
// the names of their properties, so "4,671 × {saleId, soldAt, …}" says which
// of our own records are alive, where a summary by constructor says only
// "Object". Compare two snapshots (e.g. mid-load against idle, or two trees
// after the same setup) to see what one holds that the other does not.
//   node bench/micro/heap-shapes.mjs A.heapsnapshot [B.heapsnapshot] [top=25]
// Snapshots: node --heapsnapshot-signal=SIGUSR2, or bench/micro/mem-probe.mjs.
import { readFileSync } from 'node:fs'
import process from 'node:process'

function shapes(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'))
  const meta = s.snapshot.meta
  const nf = meta.node_fields.length
  const ef = meta.edge_fields.length
  const [iType, iName, iEdges, iSize] = ['type', 'name', 'edge_count', 'self_size'].map((f) => meta.node_fields.indexOf(f))
  const [eType, eName] = ['type', 'name_or_index'].map((f) => meta.edge_fields.indexOf(f))
  const nodeTypes = meta.node_types[0]
  const edgeTypes = meta.edge_types[0]
  const by = new Map()
  let e = 0
  for (let i = 0; i < s.nodes.length; i += nf) {
    const edges = s.nodes[i + iEdges]
    const name = s.strings[s.nodes[i + iName]]
    if (nodeTypes[s.nodes[i + iType]] === 'object' && (name === 'Object' || name === 'Array')) {
      const props = []
      for (let k = 0; k < edges; k++) {
        const x = e + k * ef
        if (edgeTypes[s.edges[x + eType]] === 'property') props.push(s.strings[s.edges[x + eName]])
      }
      const key = `${name} {${props.slice(0, 12).join(', ')}}`
      const v = by.get(key) ?? { count: 0, bytes: 0 }
      v.count++
      v.bytes += s.nodes[i + iSize]
      by.set(key, v)
    }
    e += edges * ef
  }
  return by
}

const [a, b, topArg] = process.argv.slice(2)
const top = Number(topArg ?? (b && !b.endsWith('.heapsnapshot') ? b : 25))
const first = shapes(a)
const second = b && b.endsWith('.heapsnapshot') ? shapes(b) : new Map()
const rows = [...new Set([...first.keys(), ...second.keys()])].map((k) => {
  const x = first.get(k) ?? { count: 0, bytes: 0 }
  const y = second.get(k) ?? { count: 0, bytes: 0 }
  return { k, count: x.count - y.count, bytes: x.bytes - y.bytes }
})
rows.sort((p, q) => Math.abs(q.count) - Math.abs(p.count))
for (const r of rows.slice(0, top)) process.stdout.write(`${String(r.count).padStart(8)} objects ${String(r.bytes).padStart(10)} bytes ${r.k.slice(0, 160)}\n`)
