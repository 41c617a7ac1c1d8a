import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fastifyStatic from '@fastify/static'

/**
 * Where `npm run build` writes the page (scripts/build-ui.mjs): dist/ui, seen from this file as
 * source (src/routes, under tsx) or compiled (dist/src/routes).
 */
export const UI_DIR = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../dist/ui/' : '../../ui/', import.meta.url))

/**
 * The page runs only its own bundled script and style, talks only to this origin, and cannot be
 * framed: whatever a patch's diff or output holds, nothing in it can run or call out.
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

function setHeaders(reply: FastifyReply, path: string): void {
  reply.headers({
    'content-security-policy': UI_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    // Assets carry a content hash in their name; the page that names them is checked every time.
    'cache-control': path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable',
  })
}

/**
 * `GET /ui`: the operator's page, static files built at build time. They are public: they hold
 * no data, and every call the page makes goes to the API with the caller's bearer token. Served
 * from its own routes only, so nothing here runs on any other request (health polls included).
 */
export default async function uiRoutes(app: FastifyInstance) {
  if (!existsSync(`${UI_DIR}/index.html`)) app.log.warn({ dir: UI_DIR }, 'the operator page is not built: run `npm run build` to serve /ui')
  await app.register(fastifyStatic, {
    root: UI_DIR,
    prefix: '/ui',
    // GET /ui answers 301 to /ui/, so the page's relative URLs resolve under it.
    redirect: true,
    index: ['index.html'],
    // The build writes .br and .gz beside each file.
    preCompressed: true,
    decorateReply: false,
    suppressWarning: true,
    dotfiles: 'deny',
    setHeaders,
  })
}
