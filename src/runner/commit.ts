import type { WorkspaceConfig } from '../config.js'
import type { PatchRecord, FileStat } from '../schemas/record.js'
import { git, gitMaybe, pathspecInput } from './git.js'
import { authorEnv } from './workspace.js'

export const TRAILER = 'Patch-Id'

/** Only these characters in a tag: git allows `$`, backticks and parentheses, shell scripts downstream should not meet them. */
const TAG_CHARS = /^[A-Za-z0-9._+/-]+$/

export function commitMessage(record: Pick<PatchRecord, 'id' | 'client_id' | 'description' | 'patch'>): string {
  const given = record.patch.commit.message?.replace(/^(?:[ \t]*\r?\n)+/, '').trimEnd()
  if (given) return given
  return `[PATCH ${record.client_id ?? record.id}] ${record.description}`.trimEnd()
}

/** The full tag name (prefix + the patch's tag), or null when the patch asks for none. */
export const tagName = (ws: WorkspaceConfig, tag: string | undefined): string | null => (tag === undefined ? null : `${ws.tagPrefix}${tag}`)

/** Why `name` cannot be a tag, or null. git itself is the judge of ref syntax. */
export async function tagProblem(root: string, name: string): Promise<string | null> {
  if (name.startsWith('-')) return 'a tag may not start with "-"'
  if (!TAG_CHARS.test(name)) return 'a tag may contain only letters, digits and . _ + / -'
  const ok = await gitMaybe(['check-ref-format', `refs/tags/${name}`], { cwd: root })
  return ok === null ? 'not a valid git ref name' : null
}

/** The commit a tag points at, or null when there is no such tag. */
export async function tagTarget(root: string, name: string): Promise<string | null> {
  const out = await gitMaybe(['rev-parse', '--verify', '-q', `refs/tags/${name}^{commit}`], { cwd: root })
  return out === null ? null : out.trim()
}

/**
 * The commit on `branch` the runner made for patch `id`, or null. The runner appends its trailer
 * last, so only a message whose final trailer is `Patch-Id: <id>` counts: a commit that merely
 * quotes the id (a revert, a note, a cherry-pick) is not taken for the patch's own.
 */
export async function findCommitByPatchId(root: string, branch: string, id: string): Promise<string | null> {
  const out = await gitMaybe(
    ['log', '--format=%H%x00%(trailers:only,unfold,separator=%x01)%x00', '--fixed-strings', `--grep=${TRAILER}: ${id}`, `refs/heads/${branch}`, '--'],
    { cwd: root },
  )
  if (out === null) return null
  const fields = out.split('\0')
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const sha = fields[i]!.trim()
    const last = fields[i + 1]!.split('\x01').map((t) => t.trim()).filter(Boolean).at(-1)
    if (last === `${TRAILER}: ${id}`) return sha
  }
  return null
}

/** The message with the Patch-Id trailer appended where git will parse it, whatever the repository configures. */
async function withTrailer(root: string, message: string, id: string): Promise<string> {
  return git(
    ['interpret-trailers', '--no-divider', '--where', 'end', '--if-exists', 'add', '--if-missing', 'add', '--trailer', `${TRAILER}: ${id}`],
    { cwd: root, input: `${message}\n` },
  )
}

/**
 * Stages exactly the patch's paths and commits them with the Patch-Id trailer. The message goes
 * through stdin and pathspecs through NUL-separated stdin with literal matching, so neither can be
 * read as an option, a glob or shell syntax. An empty change still commits: every applied patch
 * has a commit to trace it by.
 */
export async function commitPatch(ws: WorkspaceConfig, paths: readonly string[], message: string, id: string): Promise<string> {
  const root = ws.path
  if (paths.length > 0) {
    // --force: a patch that writes an ignored path means it; leaving it out would commit less than was applied.
    await git(['--literal-pathspecs', 'add', '-A', '--force', '--pathspec-from-file=-', '--pathspec-file-nul'], { cwd: root, input: pathspecInput(paths) })
  }
  const full = await withTrailer(root, message, id)
  await git(['commit', '-q', '--allow-empty', '--no-verify', '--cleanup=verbatim', '-F', '-'], { cwd: root, input: full, env: authorEnv(ws) })
  return (await git(['rev-parse', '--verify', 'HEAD^{commit}'], { cwd: root })).trim()
}

export async function createTag(ws: WorkspaceConfig, name: string, commit: string, id: string): Promise<void> {
  await git(['tag', '-a', '-m', `${TRAILER}: ${id}`, name, commit], { cwd: ws.path, env: authorEnv(ws) })
}

export async function deleteTag(ws: WorkspaceConfig, name: string): Promise<void> {
  await gitMaybe(['tag', '-d', name], { cwd: ws.path })
}

/**
 * Takes the branch and the index back to `previous` after a failed commit or tag, leaving the
 * work tree for the snapshot restore. The dirty check guaranteed the index was clean before.
 */
export async function undoCommit(ws: WorkspaceConfig, previous: string | null): Promise<void> {
  const root = ws.path
  if (previous !== null) {
    await git(['reset', '-q', '--mixed', previous], { cwd: root })
    return
  }
  await gitMaybe(['update-ref', '-d', `refs/heads/${ws.branch}`], { cwd: root })
  await git(['read-tree', '--empty'], { cwd: root })
}

/** Added/removed lines and change kind per file of one commit, renames detected as git shows them. */
export async function fileStats(root: string, commit: string): Promise<FileStat[]> {
  const base = ['diff-tree', '-r', '-z', '--no-commit-id', '--root', '-M', '--no-ext-diff']
  const [numstat, names] = await Promise.all([git([...base, '--numstat', commit], { cwd: root }), git([...base, '--name-status', commit], { cwd: root })])

  const counts = new Map<string, { added: number; removed: number }>()
  const nf = numstat.split('\0')
  for (let i = 0; i < nf.length; i++) {
    const field = nf[i]!
    if (field === '') continue
    const [a = '-', r = '-', inline = ''] = field.split('\t')
    // A rename is "A\tR\t" followed by the old and new paths as separate fields.
    const p = inline !== '' ? inline : (i += 2, nf[i] ?? '')
    counts.set(p, { added: a === '-' ? 0 : Number(a), removed: r === '-' ? 0 : Number(r) })
  }

  const stats: FileStat[] = []
  const sf = names.split('\0')
  for (let i = 0; i < sf.length; i++) {
    const status = sf[i]!
    if (status === '') continue
    const kind = status[0]
    if (kind === 'R' || kind === 'C') {
      const from = sf[++i] ?? ''
      const to = sf[++i] ?? ''
      const c = counts.get(to) ?? { added: 0, removed: 0 }
      stats.push(kind === 'R' ? { path: to, change: 'renamed', from, ...c } : { path: to, change: 'added', ...c })
      continue
    }
    const p = sf[++i] ?? ''
    const c = counts.get(p) ?? { added: 0, removed: 0 }
    stats.push({ path: p, change: kind === 'A' ? 'added' : kind === 'D' ? 'deleted' : 'modified', ...c })
  }
  return stats
}
