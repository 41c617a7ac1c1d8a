import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import type { Accepted } from '../schemas/api.js'
import type { PatchRecord } from '../schemas/record.js'
import { EXIT, EXIT_CODES_HELP, UsageError, exitForStatus, reportError } from './exit-codes.js'
import { followPatch } from './follow.js'
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
  --wait                 follow the patch live until it is applied, failed, rejected or cancelled
  --timeout <seconds>    with --wait: give up after this long (default: wait as long as it takes)
  --json                 print one JSON document: the 202 body, or with --wait the final patch record
  --url <url>            server (GHOST_URL, default ${DEFAULT_URL})
  --token <token>        bearer token (GHOST_TOKEN, else the first of GHOST_API_TOKENS)
  --secret <whsec_…>     sign with Standard Webhooks headers instead of a token
                         (else the first of GHOST_WEBHOOK_SECRETS when no token is set)
  -h, --help

With --wait, an applied patch prints its commit and tag; a failed or rejected one prints the
reason code, the message, and the tail of the failing check's output.

${EXIT_CODES_HELP}`

const OPTIONS = {
  target: { type: 'string' },
  description: { type: 'string' },
  check: { type: 'string', multiple: true },
  wait: { type: 'boolean' },
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
    const { status, body: accepted } = await client.json<Accepted>('POST', '/webhook', { body: built.payload })
    const out = painter(io.stdout, io.env)
    const err = painter(io.stderr, io.env)
    const verb = status === 200 ? 'already accepted' : 'accepted'
    if (!values.wait) {
      if (json) write(io.stdout, JSON.stringify(accepted, null, 2))
      else write(io.stdout, `${verb} ${accepted.id} (${built.kind} → ${accepted.target}, ${accepted.status})\nfollow it with: ghost-runner status ${accepted.id}`)
      return EXIT.OK
    }

    if (!json) write(io.stderr, `${verb} ${accepted.id} (${built.kind} → ${accepted.target}); waiting for it to finish…`)
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
      write(io.stderr, `gave up waiting after ${values.timeout} s; ${accepted.id} is ${last} and carries on — see ghost-runner status ${accepted.id}`)
      return EXIT.TIMEOUT
    }
    if (json) write(io.stdout, JSON.stringify(record, null, 2))
    else if (record.status === 'applied') write(io.stdout, appliedReport(record, out))
    else write(io.stderr, failureReport(record, err))
    return exitForStatus(record.status)
  } catch (err) {
    return reportError(err, 'dispatch', io, json)
  }
}
