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

/**
 * Where git's own answer is certain without asking it: a one-paragraph message (every line has
 * text; no comment or `Conflicts:` line, which git sets aside) is all title, so it has no trailer
 * block and the trailer goes in a new paragraph. Most messages are like this, and each git
 * process costs a fork of this process. (JavaScript's trim() drops a superset of C's isspace, so
 * a line git might not call blank only sends the message to git.)
 */
const isOnePlainParagraph = (message: string) =>
  message !== '' && message.split('\n').every((line) => line.trim() !== '' && !line.startsWith('#') && !line.startsWith('Conflicts:'))

/** The message with the Patch-Id trailer appended where git will parse it, whatever the repository configures. */
export async function withTrailer(root: string, message: string, id: string): Promise<string> {
  if (isOnePlainParagraph(message)) return `${message}\n\n${TRAILER}: ${id}\n`
  return git(
    ['interpret-trailers', '--no-divider', '--where', 'end', '--if-exists', 'add', '--if-missing', 'add', '--trailer', `${TRAILER}: ${id}`],
    { cwd: root, input: `${message}\n` },
  )
}

/** A commit the runner made and what it changed. */
export interface Landed {
  commit: string
  files: FileStat[]
}

/**
 * Stages exactly the patch's paths and commits them with the Patch-Id trailer. The message goes
 * through stdin and pathspecs through NUL-separated stdin with literal matching, so neither can be
 * read as an option, a glob or shell syntax. An empty change still commits: every applied patch
 * has a commit to trace it by. Every git process costs a fork of this process, so the trailer is
 * worked out while the paths are staged, and one diff-tree names the commit and its file stats.
 */
export async function commitChanges(ws: WorkspaceConfig, paths: readonly string[], message: string, id: string): Promise<Landed> {
  const root = ws.path
  const [, full] = await Promise.all([
    // --force: a patch that writes an ignored path means it; leaving it out would commit less than was applied.
    paths.length > 0
      ? git(['--literal-pathspecs', 'add', '-A', '--force', '--pathspec-from-file=-', '--pathspec-file-nul'], { cwd: root, input: pathspecInput(paths) })
      : null,
    withTrailer(root, message, id),
  ])
  await git(['commit', '-q', '--allow-empty', '--no-verify', '--cleanup=verbatim', '-F', '-'], { cwd: root, input: full, env: authorEnv(ws) })
  return describeCommit(root, 'HEAD')
}

export async function commitPatch(ws: WorkspaceConfig, paths: readonly string[], message: string, id: string): Promise<string> {
  return (await commitChanges(ws, paths, message, id)).commit
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

/**
 * The full id of `rev` and, per file, added/removed lines and change kind, renames detected as
 * git shows them: one diff-tree prints the commit id (--always: even for an empty change), the
 * raw entries (status and paths) and then the numstat entries (line counts).
 */
async function describeCommit(root: string, rev: string): Promise<Landed> {
  const out = await git(['diff-tree', '-r', '-z', '--root', '-M', '--no-ext-diff', '--always', '--raw', '--numstat', `${rev}^{commit}`], { cwd: root })
  const f = out.split('\0')
  const commit = f[0]!.trim()
  if (!/^[0-9a-f]{40,64}$/.test(commit)) throw new Error(`git diff-tree named no commit for ${rev}`)

  const entries: { status: string; from?: string; path: string }[] = []
  const counts = new Map<string, { added: number; removed: number }>()
  for (let i = 1; i < f.length; i++) {
    const field = f[i]!
    if (field === '') continue
    if (field.startsWith(':')) {
      // ":<mode> <mode> <sha> <sha> <status>", then the path, or the old and new paths for R and C.
      const status = field.slice(field.lastIndexOf(' ') + 1)
      if (status[0] === 'R' || status[0] === 'C') entries.push({ status, from: f[++i] ?? '', path: f[++i] ?? '' })
      else entries.push({ status, path: f[++i] ?? '' })
      continue
    }
    // "<added>\t<removed>\t<path>", or "<added>\t<removed>\t" followed by the old and new paths.
    const [a = '-', r = '-', inline = ''] = field.split('\t')
    const p = inline !== '' ? inline : (i += 2, f[i] ?? '')
    counts.set(p, { added: a === '-' ? 0 : Number(a), removed: r === '-' ? 0 : Number(r) })
  }

  const files: FileStat[] = entries.map(({ status, from, path: p }) => {
    const c = counts.get(p) ?? { added: 0, removed: 0 }
    const kind = status[0]
    if (kind === 'R') return { path: p, change: 'renamed', from: from ?? '', ...c }
    if (kind === 'C') return { path: p, change: 'added', ...c }
    return { path: p, change: kind === 'A' ? 'added' : kind === 'D' ? 'deleted' : 'modified', ...c }
  })
  return { commit, files }
}

/** Added/removed lines and change kind per file of one commit, renames detected as git shows them. */
export async function fileStats(root: string, commit: string): Promise<FileStat[]> {
  return (await describeCommit(root, commit)).files
}
