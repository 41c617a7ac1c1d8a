import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { InjectOptions } from 'fastify'
import { auth, signedHeaders, testApp } from '../helpers/app.js'
import { bearer, DOCS_SECRET, patchFor, scopedOverrides, TOKENS } from '../helpers/credentials.js'

// The only routes anyone may call without credentials (/metrics joins them only when
// GHOST_METRICS_PUBLIC says so; the default is checked here). /ui serves the operator's page:
// static files that hold no data, public on purpose; every call the page makes needs a token.
// (The route tree prints its wildcard /ui/* as /ui followed by *.)
const PUBLIC = [/^\/health(\/(live|startup|ready))?$/, /^\/docs(\/.*)?$/, /^\/openapi\.json$/, /^\/ui(\/.*|\*)?$/]

/** Every (method, path) the app serves, read from its route tree so a new route cannot be missed. */
function routes(tree: string): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = []
  const stack: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?) \(([A-Z, ]+)\)$/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    stack.push(m[2]!)
    const path = stack.join('').replace(/\/\/+/g, '/')
    for (const method of m[3]!.split(', ')) out.push({ method, path })
  }
  return out
}

/** Each kind of caller: how it authenticates a request with this body. */
const CALLERS = {
  none: () => ({}),
  'wrong token': () => ({ authorization: 'Bearer not-the-token-0123456789' }),
  'GHOST_WEBHOOK_SECRETS signature': (body: string) => signedHeaders(body),
  'signature for docs only': (body: string) => signedHeaders(body, { secret: DOCS_SECRET }),
  'GHOST_API_TOKENS token': () => auth,
  admin: () => bearer(TOKENS.operator),
  'read-only, every workspace': () => bearer(TOKENS.monitor),
  'dispatch-only for docs': () => bearer(TOKENS.docsDispatcher),
  'docs: dispatch, read own, cancel own': () => bearer(TOKENS.docsAgent),
  'docs: dispatch, read all, cancel own': () => bearer(TOKENS.docsLead),
  'default: read all, cancel all': () => bearer(TOKENS.defaultOperator),
  'metrics-only': () => bearer(TOKENS.scraper),
} satisfies Record<string, (body: string) => Record<string, string>>
type Caller = keyof typeof CALLERS

// What each caller gets from each protected route, as `status` or `status CODE`. The patch routes
// name a patch of `docs` submitted by the admin, POST /webhook sends a valid patch for `default`,
// POST /mcp a tools/list. A route missing here fails the test.
const U = '401 UNAUTHORIZED'
const F = '403 FORBIDDEN'
const T = '403 TARGET_FORBIDDEN'
const N = '404 NOT_FOUND'
const NO_SIGNATURE = { none: U, 'wrong token': U, 'GHOST_WEBHOOK_SECRETS signature': U, 'signature for docs only': U } as const
const TABLE: Record<string, Record<Caller, string>> = {
  'POST /webhook': {
    none: U, 'wrong token': U, 'GHOST_WEBHOOK_SECRETS signature': '202', 'signature for docs only': T,
    'GHOST_API_TOKENS token': '202', admin: '202', 'read-only, every workspace': F, 'dispatch-only for docs': T,
    'docs: dispatch, read own, cancel own': T, 'docs: dispatch, read all, cancel own': T, 'default: read all, cancel all': F, 'metrics-only': F,
  },
  'GET /patches': {
    ...NO_SIGNATURE,
    'GHOST_API_TOKENS token': '200', admin: '200', 'read-only, every workspace': '200', 'dispatch-only for docs': F,
    'docs: dispatch, read own, cancel own': '200', 'docs: dispatch, read all, cancel own': '200', 'default: read all, cancel all': '200', 'metrics-only': F,
  },
  'GET /patches/:id': {
    ...NO_SIGNATURE,
    'GHOST_API_TOKENS token': '200', admin: '200', 'read-only, every workspace': '200', 'dispatch-only for docs': F,
    'docs: dispatch, read own, cancel own': N, 'docs: dispatch, read all, cancel own': '200', 'default: read all, cancel all': N, 'metrics-only': F,
  },
  'POST /patches/:id/cancel': {
    ...NO_SIGNATURE,
    'GHOST_API_TOKENS token': '200', admin: '200', 'read-only, every workspace': F, 'dispatch-only for docs': F,
    'docs: dispatch, read own, cancel own': N, 'docs: dispatch, read all, cancel own': F, 'default: read all, cancel all': N, 'metrics-only': F,
  },
  'GET /metrics': {
    ...NO_SIGNATURE,
    'GHOST_API_TOKENS token': '200', admin: '200', 'read-only, every workspace': F, 'dispatch-only for docs': F,
    'docs: dispatch, read own, cancel own': F, 'docs: dispatch, read all, cancel own': F, 'default: read all, cancel all': F, 'metrics-only': '200',
  },
  // Any valid token reaches the MCP endpoint; each tool is the route it replays, with its rights.
  'POST /mcp': {
    ...NO_SIGNATURE,
    'GHOST_API_TOKENS token': '200', admin: '200', 'read-only, every workspace': '200', 'dispatch-only for docs': '200',
    'docs: dispatch, read own, cancel own': '200', 'docs: dispatch, read all, cancel own': '200', 'default: read all, cancel all': '200', 'metrics-only': '200',
  },
}
TABLE['GET /patches/:id/events'] = TABLE['GET /patches/:id']!
// A preview goes through the webhook's door: what would be a 202 there is the preview's 200.
TABLE['POST /patches/preview'] = Object.fromEntries(Object.entries(TABLE['POST /webhook']!).map(([c, v]) => [c, v === '202' ? '200' : v])) as Record<Caller, string>
// The patch has no commit: a caller who may read it is told so, the others as for GET /patches/:id.
TABLE['GET /patches/:id/diff'] = Object.fromEntries(Object.entries(TABLE['GET /patches/:id']!).map(([c, v]) => [c, v === '200' ? '409 NOT_APPLIED' : v])) as Record<Caller, string>
// Every caller with a read right gets the stream and the queue depths, narrowed to what it may read.
TABLE['GET /events'] = Object.fromEntries(Object.entries(TABLE['GET /patches']!).map(([c, v]) => [c, v])) as Record<Caller, string>
TABLE['GET /queues'] = TABLE['GET /events']
const NOT_ALLOWED = Object.fromEntries(Object.keys(CALLERS).map((c) => [c, c in NO_SIGNATURE ? U : '405 METHOD_NOT_ALLOWED'])) as Record<Caller, string>
TABLE['GET /mcp'] = NOT_ALLOWED
TABLE['DELETE /mcp'] = NOT_ALLOWED
// HEAD answers as its GET does.
for (const key of Object.keys(TABLE)) if (key.startsWith('GET ')) TABLE[`HEAD ${key.slice(4)}`] = TABLE[key]!

it('every route other than health, docs and openapi answers each kind of caller as the table says: 401 without valid credentials, 403 without the right or the workspace, 404 for a patch it may not read', async () => {
  const app = await testApp(scopedOverrides())
  const all = routes(app.printRoutes({ commonPrefix: false }))
  assert.ok(all.length >= 15, `only ${all.length} routes parsed from the route tree`)
  for (const pattern of PUBLIC) assert.ok(all.some((r) => pattern.test(r.path)), `public route ${pattern} no longer exists`)

  const isProtected = all.filter((r) => !PUBLIC.some((p) => p.test(r.path)))
  const paths = new Set(isProtected.map((r) => r.path))
  for (const known of ['/webhook', '/patches', '/patches/:id', '/patches/:id/cancel', '/patches/:id/events', '/patches/:id/diff', '/patches/preview', '/events', '/queues', '/mcp', '/metrics']) {
    assert.ok(paths.has(known), `${known} missing from the protected routes parsed: ${[...paths].join(', ')}`)
  }
  for (const { method, path } of isProtected) assert.ok(TABLE[`${method} ${path}`], `${method} ${path} is not in the table: say what each caller gets`)

  const admin = bearer(TOKENS.operator)
  const submit = async () => {
    const res = await app.inject({ method: 'POST', url: '/webhook', headers: admin, payload: patchFor('docs') })
    assert.equal(res.statusCode, 202, res.body)
    return res.json().id as string
  }
  // A final patch, so that a stream opened on it sends its history and ends.
  const finished = await submit()
  assert.equal((await app.inject({ method: 'POST', url: `/patches/${finished}/cancel`, headers: admin })).statusCode, 200)

  const failures: string[] = []
  for (const { method, path } of isProtected) {
    for (const [caller, headersFor] of Object.entries(CALLERS) as [Caller, (body: string) => Record<string, string>][]) {
      const expected = TABLE[`${method} ${path}`]![caller]
      // Each cancel gets a queued patch of its own: one that succeeds must not change the next.
      const id = path === '/patches/:id/cancel' ? await submit() : finished
      const url = path.replace(':id', id).replace('*', 'x')
      const payload =
        method === 'GET' || method === 'HEAD' || method === 'DELETE'
          ? undefined
          : path === '/webhook' || path === '/patches/preview'
            ? JSON.stringify(patchFor('default'))
            : path === '/mcp'
              ? JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
              : '{}'
      // A stream of every change never ends by itself: its status is read as soon as headers are sent.
      const streaming = path === '/events'
      const res = await app.inject({
        method: method as InjectOptions['method'],
        url,
        headers: { ...headersFor(payload ?? ''), ...(payload === undefined ? {} : { 'content-type': 'application/json' }), accept: 'application/json, text/event-stream' },
        payload,
        ...(streaming && { payloadAsStream: true }),
      })
      let body = ''
      if (streaming) {
        const stream = res.stream()
        if (res.statusCode < 400) stream.destroy()
        else for await (const chunk of stream) body += String(chunk)
      } else body = res.body
      const code = res.statusCode >= 400 && method !== 'HEAD' ? ` ${(JSON.parse(body) as { code: string }).code}` : ''
      const got = `${res.statusCode}${code}`
      // HEAD carries no body to read a code from: its status must match.
      const want = method === 'HEAD' ? expected.split(' ')[0] : expected
      if (got !== want) failures.push(`${method} ${path} as ${caller}: expected ${want}, got ${got} ${body.slice(0, 160)}`)
    }
  }
  assert.deepEqual(failures, [])
})
