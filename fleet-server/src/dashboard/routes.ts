// The officials' and operators' dashboard: static zh-CN pages served by the
// fleet server itself (ECharts included — the machines have no internet).
// The page logs in with POST /api/v1/session and then uses the same /api/v1
// endpoints, so every scope rule of the API applies to it unchanged.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { dashboardTextScript, ERROR_CODES } from '../../../shared/src/index.js'

interface Asset {
  readonly type: string
  readonly body: Buffer
  readonly etag: string
  readonly cacheControl: string
  gzipped?: Buffer
}

// Next to this module when run from source (tsx); a build (tsc → dist/) or
// `npm start`'s bundle (dist/server/, fleet-server/start.mjs) does not copy
// the static files, so it reads them from the source tree.
const STATIC_DIR = [
  join(import.meta.dirname, 'static'),
  join(import.meta.dirname, '..', '..', '..', '..', 'fleet-server', 'src', 'dashboard', 'static'),
  join(import.meta.dirname, '..', '..', 'fleet-server', 'src', 'dashboard', 'static'),
].find((d) => existsSync(join(d, 'index.html')))

function asset(path: string, type: string, cacheControl: string): Asset {
  return assetOf(readFileSync(path), type, cacheControl)
}

function assetOf(body: Buffer, type: string, cacheControl: string): Asset {
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`, cacheControl }
}

const SECURITY_HEADERS = {
  // Inline styles only: ECharts positions its tooltips with style attributes.
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
}

export interface DashboardOptions {
  /** Whether /public/ (the public disclosure page, issue 15) is served; off: 404. */
  readonly publicDisclosure?: () => boolean
}

export const dashboardRoutes = (opts: DashboardOptions = {}): FastifyPluginAsync =>
  async function dashboard(app) {
    if (!STATIC_DIR) {
      // The API must not go down because the page's files are missing.
      app.log.error({ dir: import.meta.dirname }, 'dashboard files not found; serving the API only')
      return
    }
    const echartsPath = createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js')
    // Our files revalidate on every load (cheap 304s); ECharts only changes with the package.
    const assets: Record<string, Asset> = {
      'index.html': asset(join(STATIC_DIR, 'index.html'), 'text/html; charset=utf-8', 'no-cache'),
      'app.js': asset(join(STATIC_DIR, 'app.js'), 'text/javascript; charset=utf-8', 'no-cache'),
      // Issue 16 §6: the 通知 page, in a file of its own.
      'notifications.js': asset(join(STATIC_DIR, 'notifications.js'), 'text/javascript; charset=utf-8', 'no-cache'),
      'stock.js': asset(join(STATIC_DIR, 'stock.js'), 'text/javascript; charset=utf-8', 'no-cache'),
      // Issue 16 §4: the cabinet page's 运行状态 card.
      'telemetry.js': asset(join(STATIC_DIR, 'telemetry.js'), 'text/javascript; charset=utf-8', 'no-cache'),
      'app.css': asset(join(STATIC_DIR, 'app.css'), 'text/css; charset=utf-8', 'no-cache'),
      // The page's words and number formats, from the one zh-CN source in shared/.
      'zh.js': assetOf(Buffer.from(dashboardTextScript(ERROR_CODES)), 'text/javascript; charset=utf-8', 'no-cache'),
      'echarts.min.js': asset(echartsPath, 'text/javascript; charset=utf-8', 'public, max-age=604800'),
    }
    // The public page: its own files, no login, no link into the dashboard.
    const publicAssets: Record<string, Asset> = {
      'index.html': asset(join(STATIC_DIR, 'public.html'), 'text/html; charset=utf-8', 'no-cache'),
      'public.js': asset(join(STATIC_DIR, 'public.js'), 'text/javascript; charset=utf-8', 'no-cache'),
    }

    const send = (req: FastifyRequest, reply: FastifyReply, a: Asset) => {
      reply.headers({ ...SECURITY_HEADERS, 'content-type': a.type, 'cache-control': a.cacheControl, etag: a.etag, vary: 'accept-encoding' })
      if (req.headers['if-none-match'] === a.etag) return reply.code(304).send()
      if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '') && a.body.length > 1024) {
        // Compressed on first use, not at startup: most fleets in tests never serve the page.
        a.gzipped ??= gzipSync(a.body)
        return reply.header('content-encoding', 'gzip').send(a.gzipped)
      }
      return reply.send(a.body)
    }

    const hide = { schema: { hide: true } }
    app.get('/', hide, async (_req, reply) => reply.redirect('/dashboard/'))
    app.get('/dashboard', hide, async (_req, reply) => reply.redirect('/dashboard/'))
    app.get('/dashboard/', hide, async (req, reply) => send(req, reply, assets['index.html']!))
    app.get<{ Params: { file: string } }>('/dashboard/:file', hide, async (req, reply) => {
      const a = Object.hasOwn(assets, req.params.file) ? assets[req.params.file] : undefined
      if (!a) return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `${ERROR_CODES.NOT_FOUND}：“${req.params.file}”` } })
      return send(req, reply, a)
    })
    const notFound = (reply: FastifyReply, what: string) => reply.code(404).send({ error: { code: 'NOT_FOUND', message: `${ERROR_CODES.NOT_FOUND}：“${what}”` } })
    const isPublic = () => opts.publicDisclosure?.() === true
    app.get('/public', hide, async (_req, reply) => (isPublic() ? reply.redirect('/public/') : notFound(reply, 'public')))
    app.get('/public/', hide, async (req, reply) => (isPublic() ? send(req, reply, publicAssets['index.html']!) : notFound(reply, 'public')))
    app.get<{ Params: { file: string } }>('/public/:file', hide, async (req, reply) => {
      const a = isPublic() && req.params.file !== 'index.html' && Object.hasOwn(publicAssets, req.params.file) ? publicAssets[req.params.file] : undefined
      return a ? send(req, reply, a) : notFound(reply, req.params.file)
    })
  }
