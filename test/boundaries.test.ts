// Keeps the package boundaries of STYLE.md §2 true: shared imports nothing of
// ours and does no I/O; the agent and the server never import each other;
// simulators use the edge agent only through its index.ts.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve, dirname } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from './helpers/process.js'

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })) {
    if (e.isFile() && /\.ts$/.test(e.name)) out.push(relative(REPO_ROOT, join(e.parentPath, e.name)))
  }
  return out
}

function imports(file: string): string[] {
  const src = readFileSync(join(REPO_ROOT, file), 'utf8')
  return [...src.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!)
}

function resolved(file: string, spec: string): string {
  return spec.startsWith('.') ? relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), spec)) : spec
}

describe('package boundaries', () => {
  it('shared imports only zod and I/O-free node built-ins, and reads no environment', () => {
    const files = sourceFiles('shared/src')
    expect(files.length).toBeGreaterThan(10)
    expect(files.flatMap(imports)).toContain('zod')
    for (const f of files) {
      for (const spec of imports(f)) {
        if (spec.startsWith('.')) expect(resolved(f, spec), `${f} → ${spec}`).toMatch(/^shared\//)
        else expect(['zod', 'node:crypto'], `${f} → ${spec}`).toContain(spec)
      }
      expect(readFileSync(join(REPO_ROOT, f), 'utf8'), f).not.toMatch(/process\.env/)
    }
  })

  it('the edge agent never imports the fleet server, and the fleet server never the edge agent', () => {
    for (const f of sourceFiles('edge-agent/src')) for (const s of imports(f)) expect(resolved(f, s), `${f} → ${s}`).not.toMatch(/^(fleet-server|simulators)\//)
    for (const f of sourceFiles('fleet-server/src')) for (const s of imports(f)) expect(resolved(f, s), `${f} → ${s}`).not.toMatch(/^(edge-agent|simulators)\//)
  })

  it('simulators reach the edge agent only through its index.ts and never import the fleet server', () => {
    for (const f of sourceFiles('simulators/src')) {
      for (const s of imports(f)) {
        const r = resolved(f, s)
        expect(r, `${f} → ${s}`).not.toMatch(/^fleet-server\//)
        if (r.startsWith('edge-agent/')) expect(r, `${f} → ${s}`).toBe('edge-agent/src/index.js')
      }
    }
  })

  it('no topic string literal outside shared/src/topics.ts', () => {
    for (const f of [...sourceFiles('edge-agent/src'), ...sourceFiles('fleet-server/src'), ...sourceFiles('simulators/src')]) {
      expect(readFileSync(join(REPO_ROOT, f), 'utf8'), f).not.toMatch(/['"`]cabinets\/[^'"`]*\/(up|down)/)
    }
  })
})
