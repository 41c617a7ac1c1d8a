import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import type { Accepted } from '../schemas/api.js'
import type { PatchRecord } from '../schemas/record.js'
import { EXIT, EXIT_CODES_HELP, UsageError, exitForStatus, reportError } from './exit-codes.js'
import { followPatch } from './follow.js'
import { dryRun } from './dry-run.js'
import { CONNECTION_OPTIONS, parseCommandArgs } from './args.js'
import { ApiClient, DEFAULT_URL, connectionFrom } from './http-client.js'
import { buildPayload, PatchFileError } from './patch-file.js'
import { failureReport, painter, paintStatus, write, type Io, type Paint } from './render.js'

export const DISPATCH_HELP = `Usage: ghost-runner dispatch <file> [flags]

Sends a patch to the server. The file (or - for standard input) may hold, detected by content:
  a native JSON patch        {"target": "default", "operations": [...]}
  a legacy v1 or v2 payload  {"target_file": ...} / {"blockId": ..., "mutations": [...]}
  a unified diff             git diff / git format-patch output
  a V4A patch                *** Begin Patch … *** End Patch (OpenAI apply_patch)

Flags:
  --target <name>        workspace for a diff or V4A file (default: default); overrides a JSON patch's
  --description <text>   what the patch does (diff/V4A default: the files it touches)
  --check <name>         run this allowed check of the workspace before committing (repeatable)
  --dry-run              show what the patch would do to the workspace now (diff on stdout, stats on
                         stderr) without queueing it; exit 2 with the reason if it would be rejected
  --wait                 follow the patch live until it is applied, failed, rejected or cancelled
  --timeout <seconds>    with --wait: give up after this long (default: wait as long as it takes)
  --json                 print one JSON document: the 202 body, or with --wait the final patch record
  --url <url>            server (GHOST_URL, default ${DEFAULT_URL})
  --token <token>        bearer token (GHOST_TOKEN, else the first plain token of GHOST_API_TOKENS);
                         it needs the dispatch right on the target, and the read right for --wait
  --secret <whsec_…>     sign the patch with Standard Webhooks headers instead of the token
                         (else the first of GHOST_WEBHOOK_SECRETS when no token is set);
                         a signature authenticates the dispatch only: --wait reads with the token
  -h, --help

With --wait, an applied patch prints its commit and tag; a failed or rejected one prints the
reason code, the message, and the tail of the failing check's output.

${EXIT_CODES_HELP}`

const OPTIONS = {
  secret: { type: 'string' },
  target: { type: 'string' },
  description: { type: 'string' },
  check: { type: 'string', multiple: true },
  wait: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  timeout: { type: 'string' },
  ...CONNECTION_OPTIONS,
} as const

const parse = (args: string[]) => parseCommandArgs(args, OPTIONS)

async function readInput(file: string): Promise<string> {
  try {
    return file === '-' ? await readStream(process.stdin) : await readFile(file, 'utf8')
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks).toString('utf8')
}

function timeoutSignal(seconds: string | undefined): AbortSignal | undefined {
  if (seconds === undefined) return undefined
  const n = Number(seconds)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--timeout expects a positive number of seconds, got "${seconds}"`)
  return AbortSignal.timeout(Math.round(n * 1000))
}

const clock = (iso: string) => new Date(iso).toTimeString().slice(0, 8)

function appliedReport(record: PatchRecord, paint: Paint): string {
  const r = record.result
  const lines = [`${paintStatus(paint, 'applied')} ${record.id} to ${record.target}`, `commit  ${r?.commit ?? '(none)'}`, `tag     ${r?.tag ?? '(none)'}`]
  const marks = { added: 'A', modified: 'M', deleted: 'D', renamed: 'R' } as const
  for (const f of r?.files ?? []) lines.push(`  ${marks[f.change]} ${f.from ? `${f.from} → ` : ''}${f.path} (+${f.added} -${f.removed})`)
  return lines.join('\n')
}

interface WaitOptions {
  json: boolean
  signal: AbortSignal | undefined
  /** --timeout as given, for the message when it runs out. */
  timeout: string | undefined
}

/** `--wait`: follows an accepted patch to its final status and reports it; resolves to the exit code. */
async function waitForPatch(client: ApiClient, accepted: Accepted, io: Io, { json, signal, timeout }: WaitOptions): Promise<number> {
  const out = painter(io.stdout, io.env)
  const err = painter(io.stderr, io.env)
  let last: string = accepted.status
  let record: PatchRecord
  try {
    record = await followPatch(client, accepted.id, {
      signal,
      onEvent: (e) => {
        last = e.status
        const pad = ' '.repeat(Math.max(0, 9 - e.status.length))
        if (!json) write(io.stderr, `  ${clock(e.at)}  ${paintStatus(err, e.status)}${pad}  ${e.reason}${e.detail ? `  ${e.detail}` : ''}`)
      },
    })
  } catch (e) {
    if (!signal?.aborted) throw e
    if (json) write(io.stdout, JSON.stringify({ id: accepted.id, status: last, timed_out: true }, null, 2))
    write(io.stderr, `gave up waiting after ${timeout} s; ${accepted.id} is ${last} and carries on — see ghost-runner status ${accepted.id}`)
    return EXIT.TIMEOUT
  }
  if (json) write(io.stdout, JSON.stringify(record, null, 2))
  else if (record.status === 'applied') write(io.stdout, appliedReport(record, out))
  else write(io.stderr, failureReport(record, err))
  return exitForStatus(record.status)
}

/** `ghost-runner dispatch`: resolves to the process exit code. */
export async function dispatch(args: string[], io: Io): Promise<number> {
  let json = args.includes('--json')
  try {
    const { values, positionals } = parse(args)
    json = values.json === true
    if (values.help) {
      write(io.stdout, DISPATCH_HELP)
      return EXIT.OK
    }
    if (positionals.length !== 1) throw new UsageError('expected exactly one file (or - for standard input)')
    const file = positionals[0]!
    if (values['dry-run'] && values.wait) throw new UsageError('--dry-run queues nothing to --wait for')
    if (values.timeout !== undefined && !values.wait) throw new UsageError('--timeout only applies with --wait')
    const signal = timeoutSignal(values.timeout)
    let built
    try {
      built = buildPayload(await readInput(file), file === '-' ? 'stdin' : basename(file), {
        target: values.target,
        description: values.description,
        checks: values.check ?? [],
      })
    } catch (err) {
      if (err instanceof PatchFileError) throw new UsageError(`${file}: ${err.message}`)
      throw err
    }

    const { url, credentials } = connectionFrom(values, io.env)
    const client = new ApiClient(url, credentials)
    if (values['dry-run']) return await dryRun(client, built.payload, io, json)
    // Checked before sending: a patch queued that the command then cannot follow is worse than none.
    if (values.wait && !client.canRead) {
      throw new UsageError('--wait reads the patch back, which needs a bearer token (--token, GHOST_TOKEN or GHOST_API_TOKENS): a webhook secret signs the dispatch only')
    }
    const { status, body: accepted } = await client.json<Accepted>('POST', '/webhook', { body: built.payload })
    const verb = status === 200 ? 'already accepted' : 'accepted'
    if (!values.wait) {
      if (json) write(io.stdout, JSON.stringify(accepted, null, 2))
      else write(io.stdout, `${verb} ${accepted.id} (${built.kind} → ${accepted.target}, ${accepted.status})\nfollow it with: ghost-runner status ${accepted.id}`)
      return EXIT.OK
    }
    if (!json) write(io.stderr, `${verb} ${accepted.id} (${built.kind} → ${accepted.target}); waiting for it to finish…`)
    return await waitForPatch(client, accepted, io, { json, signal, timeout: values.timeout })
  } catch (err) {
    return reportError(err, 'dispatch', io, json)
  }
}
