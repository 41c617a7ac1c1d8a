import { Value } from '@sinclair/typebox/value'
import { PatchStatus, type PatchRecord } from '../schemas/record.js'
import type { ListPage } from '../store/port.js'
import { EXIT, UsageError, reportError } from './exit-codes.js'
import { CONNECTION_OPTIONS, parseCommandArgs } from './args.js'
import { ApiClient, DEFAULT_URL, connectionFrom } from './http-client.js'
import { age, failureReport, painter, paintStatus, table, write, type Io, type Paint } from './render.js'

export const STATUS_HELP = `Usage: ghost-runner status [id] [flags]

Without an id: a table of recent patches, newest first (id, status, target, age, the
credential that submitted it, description): those the token may read.
With an id: that patch, who submitted and who cancelled it, its result or error, and every
status change with its reason.

Flags:
  --status <status>   only patches in this status (queued, running, applied, failed, rejected, cancelled)
  --target <name>     only patches for this workspace
  --limit <n>         how many patches to list, 1 to 100 (default 20)
  --cursor <cursor>   the next page, as printed after a full page
  --json              print one JSON document: the page ({items, next_cursor}) or the patch record
  --url <url>         server (GHOST_URL, default ${DEFAULT_URL})
  --token <token>     bearer token with the read right (GHOST_TOKEN, else the first plain token
                      of GHOST_API_TOKENS); webhook secrets sign patches only and cannot read them
  -h, --help

Exit codes:
  0   success
  4   the server refused the request (printed as "code: title — detail") or could not be reached
  64  usage error: bad flags or arguments
`

const OPTIONS = {
  status: { type: 'string' },
  target: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  ...CONNECTION_OPTIONS,
} as const

const parse = (args: string[]) => parseCommandArgs(args, OPTIONS)

function listQuery(values: ReturnType<typeof parse>['values']): string {
  const q = new URLSearchParams()
  if (values.status !== undefined) {
    if (!Value.Check(PatchStatus, values.status)) throw new UsageError(`--status expects one of queued, running, applied, failed, rejected, cancelled; got "${values.status}"`)
    q.set('status', values.status)
  }
  if (values.target !== undefined) q.set('target', values.target)
  const limit = values.limit === undefined ? 20 : Number(values.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new UsageError(`--limit expects a whole number from 1 to 100, got "${values.limit}"`)
  q.set('limit', String(limit))
  if (values.cursor !== undefined) q.set('cursor', values.cursor)
  return q.toString()
}

function listView(page: ListPage, paint: Paint, width: number | undefined): string {
  if (page.items.length === 0) return 'No patches.'
  const rows = page.items.map((p) => [p.id, paintStatus(paint, p.status), p.target, age(p.created_at), p.submitted_by ?? '-', p.description])
  const more = page.next_cursor ? `\nnext page: the same command with --cursor ${page.next_cursor}` : ''
  return table(['ID', 'STATUS', 'TARGET', 'AGE', 'BY', 'DESCRIPTION'], rows, paint, width) + more
}

function recordView(r: PatchRecord, paint: Paint, width: number | undefined): string {
  const fields: [string, string][] = [
    ['id', r.id],
    ['status', paintStatus(paint, r.status)],
    ['target', r.target],
    ['format', r.format],
    ['description', r.description || '-'],
    ['client id', r.client_id ?? '-'],
    ['submitted by', r.submitted_by ?? '-'],
    ['attempts', String(r.attempts)],
    ['created', `${r.created_at} (${age(r.created_at)} ago)`],
    ['finished', r.finished_at ?? '-'],
  ]
  if (r.cancelled_by !== null) fields.push(['cancelled by', r.cancelled_by])
  if (r.result?.commit) fields.push(['commit', r.result.commit])
  if (r.result?.tag) fields.push(['tag', r.result.tag])
  for (const c of r.result?.checks ?? []) fields.push([`check ${c.name}`, c.timed_out ? 'timed out' : `exit ${c.exit_code ?? c.signal} in ${Math.round(c.duration_ms)} ms`])
  const out = fields.map(([k, v]) => `${paint('bold', k.padEnd(13))}${v}`)
  if (r.error) out.push('', failureReport(r, paint))
  const events = r.events.map((e, i) => [String(i + 1), e.at, paintStatus(paint, e.status), e.reason, e.detail ?? ''])
  out.push('', table(['#', 'AT', 'STATUS', 'REASON', 'DETAIL'], events, paint, width))
  return out.join('\n')
}

/** `ghost-runner status`: resolves to the process exit code. */
export async function status(args: string[], io: Io): Promise<number> {
  let json = args.includes('--json')
  try {
    const { values, positionals } = parse(args)
    json = values.json === true
    if (values.help) {
      write(io.stdout, STATUS_HELP)
      return EXIT.OK
    }
    if (positionals.length > 1) throw new UsageError('expected at most one patch id')
    const id = positionals[0]
    const query = id === undefined ? listQuery(values) : ''
    const { url, credentials } = connectionFrom(values, io.env)
    const client = new ApiClient(url, credentials)
    const paint = painter(io.stdout, io.env)
    const width = io.stdout.isTTY ? io.stdout.columns : undefined
    if (id !== undefined) {
      const { body } = await client.json<PatchRecord>('GET', `/patches/${encodeURIComponent(id)}`)
      write(io.stdout, json ? JSON.stringify(body, null, 2) : recordView(body, paint, width))
    } else {
      const { body } = await client.json<ListPage>('GET', `/patches?${query}`)
      write(io.stdout, json ? JSON.stringify(body, null, 2) : listView(body, paint, width))
    }
    return EXIT.OK
  } catch (err) {
    return reportError(err, 'status', io, json)
  }
}
