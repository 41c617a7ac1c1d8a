import { REJECT_CODES } from '../runner/operations/errors.js'
import type { PatchPreview } from '../schemas/preview.js'
import type { MatchRegion } from '../schemas/record.js'
import { EXIT } from './exit-codes.js'
import { ProblemError, type ApiClient } from './http-client.js'
import { painter, write, type Io } from './render.js'

const MARKS = { added: 'A', modified: 'M', deleted: 'D', renamed: 'R' } as const

function statsReport(preview: PatchPreview): string {
  const lines = preview.files.map((f) => `  ${MARKS[f.status]} ${f.from ? `${f.from} → ` : ''}${f.path} ${f.binary ? '(binary)' : `(+${f.additions} -${f.deletions})`}`)
  if (preview.truncated) lines.push('  (the diff leaves some files out to stay within its size or time cap)')
  return [`would change ${preview.files.length} file(s) in ${preview.target}:`, ...lines].join('\n')
}

type Rejection = { code: string; title: string; detail?: string; path?: string; operation?: number; candidates?: number[]; regions?: MatchRegion[] }

function rejectionReport(r: Rejection, bold: (s: string) => string): string {
  const out = [`would be rejected: ${bold(r.code)}: ${r.title}`]
  if (r.path !== undefined) out.push(`  path: ${r.path}${r.operation !== undefined ? ` (operation ${r.operation})` : ''}`)
  if (r.detail) out.push(`  detail: ${r.detail}`)
  if (r.candidates) out.push(`  matched at lines: ${r.candidates.join(', ')}`)
  for (const region of r.regions ?? []) {
    out.push(`  lines ${region.start_line}-${region.end_line} (similarity ${region.similarity}):`, ...region.lines.map((l) => `    | ${l}`))
  }
  return out.join('\n')
}

/**
 * `dispatch --dry-run`: what the patch would do now (POST /patches/preview). The diff goes to
 * stdout and the stats to stderr, so the output can be piped into `git apply --stat`; a patch
 * that would be rejected exits 2 like a rejected dispatch. Other refusals throw for reportError.
 */
export async function dryRun(client: ApiClient, payload: unknown, io: Io, json: boolean): Promise<number> {
  try {
    const { body } = await client.json<PatchPreview>('POST', '/patches/preview', { body: payload })
    if (json) write(io.stdout, JSON.stringify(body, null, 2))
    else {
      write(io.stderr, statsReport(body))
      if (body.diff !== '') io.stdout.write(body.diff)
    }
    return EXIT.OK
  } catch (err) {
    if (!(err instanceof ProblemError) || err.problem.status !== 422 || !(REJECT_CODES as readonly string[]).includes(err.problem.code)) throw err
    const problem = err.problem as Rejection
    if (json) write(io.stdout, JSON.stringify(problem, null, 2))
    else write(io.stderr, rejectionReport(problem, (s) => painter(io.stderr, io.env)('bold', s)))
    return EXIT.REJECTED
  }
}
