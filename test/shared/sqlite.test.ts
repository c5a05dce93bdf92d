import { describe, expect, it } from 'vitest'
import { sqliteModuleFor } from '../../shared/src/sqlite.js'

describe('sqliteModuleFor', () => {
  it('loads better-sqlite3 12.x on Node 20 and 22, and the Node-API 13.x from Node 24 on', () => {
    expect(sqliteModuleFor('20.20.2')).toBe('better-sqlite3')
    expect(sqliteModuleFor('22.23.3')).toBe('better-sqlite3')
    expect(sqliteModuleFor('24.0.0')).toBe('better-sqlite3-napi')
    expect(sqliteModuleFor('26.1.0')).toBe('better-sqlite3-napi')
  })
})
