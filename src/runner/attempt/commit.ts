import type { WorkspaceConfig } from '../../config.js'
import type { PatchRecord, FileStat } from '../../schemas/record.js'
import { git, gitMaybe, pathspecInput, type GitRepo } from '../workspace/git.js'
import { TRAILER } from '../workspace/patch-trailer.js'
import { tagNameProblem } from '../workspace/tag-name.js'

export function commitMessage(record: Pick<PatchRecord, 'id' | 'client_id' | 'description' | 'patch'>): string {
  const given = record.patch.commit.message?.replace(/^(?:[ \t]*\r?\n)+/, '').trimEnd()
  if (given) return given
  return `[PATCH ${record.client_id ?? record.id}] ${record.description}`.trimEnd()
}

/** The full tag name (prefix + the patch's tag), or null when the patch asks for none. */
export const tagName = (ws: WorkspaceConfig, tag: string | undefined): string | null => (tag === undefined ? null : `${ws.tagPrefix}${tag}`)

/**
 * Why `name` cannot be a tag in this workspace, or null: the rule the door applies
 * (tag-name.ts), against the configured branch and every branch the repository has now,
 * remote-tracking ones included.
 */
export async function tagProblem(ws: WorkspaceConfig, repo: GitRepo, name: string): Promise<string | null> {
  const early = tagNameProblem(name, [ws.branch])
  if (early !== null) return early
  const refs = await git(['for-each-ref', '--format=%(refname)', 'refs/heads', 'refs/remotes'], { repo })
  const branches = refs.split('\n').flatMap((ref) => {
    const m = /^refs\/(?:heads|remotes)\/(.+)$/.exec(ref)
    return m ? [m[1]!] : []
  })
  return tagNameProblem(name, branches)
}

/** The commit a tag points at, or null when there is no such tag. */
export async function tagTarget(repo: GitRepo, name: string): Promise<string | null> {
  const out = await gitMaybe(['rev-parse', '--verify', '-q', `refs/tags/${name}^{commit}`], { repo })
  return out === null ? null : out.trim()
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
export async function withTrailer(repo: GitRepo, message: string, id: string): Promise<string> {
  if (isOnePlainParagraph(message)) return `${message}\n\n${TRAILER}: ${id}\n`
  return git(
    ['interpret-trailers', '--no-divider', '--where', 'end', '--if-exists', 'add', '--if-missing', 'add', '--trailer', `${TRAILER}: ${id}`],
    { repo, input: `${message}\n` },
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
export async function commitChanges(ws: WorkspaceConfig, repo: GitRepo, paths: readonly string[], message: string, id: string): Promise<Landed> {
  const [, full] = await Promise.all([
    // --force: a patch that writes an ignored path means it; leaving it out would commit less than was applied.
    paths.length > 0
      ? git(['--literal-pathspecs', 'add', '-A', '--force', '--pathspec-from-file=-', '--pathspec-file-nul'], { repo, input: pathspecInput(paths) })
      : null,
    withTrailer(repo, message, id),
  ])
  await git(['commit', '-q', '--allow-empty', '--no-verify', '--cleanup=verbatim', '-F', '-'], { repo, input: full, identity: ws.author })
  return describeCommit(repo, 'HEAD')
}

export async function commitPatch(ws: WorkspaceConfig, repo: GitRepo, paths: readonly string[], message: string, id: string): Promise<string> {
  return (await commitChanges(ws, repo, paths, message, id)).commit
}

export async function createTag(ws: WorkspaceConfig, repo: GitRepo, name: string, commit: string, id: string): Promise<void> {
  await git(['tag', '-a', '-m', `${TRAILER}: ${id}`, name, commit], { repo, identity: ws.author })
}

export async function deleteTag(repo: GitRepo, name: string): Promise<void> {
  await gitMaybe(['tag', '-d', name], { repo })
}

/**
 * Takes the branch and the index back to `previous` after a failed commit or tag, leaving the
 * work tree for the snapshot restore. The dirty check guaranteed the index was clean before.
 */
export async function undoCommit(ws: WorkspaceConfig, repo: GitRepo, previous: string | null): Promise<void> {
  if (previous !== null) {
    await git(['reset', '-q', '--mixed', previous], { repo })
    return
  }
  await gitMaybe(['update-ref', '-d', `refs/heads/${ws.branch}`], { repo })
  await git(['read-tree', '--empty'], { repo })
}

/**
 * The full id of `rev` and, per file, added/removed lines and change kind, renames detected as
 * git shows them: one diff-tree prints the commit id (--always: even for an empty change), the
 * raw entries (status and paths) and then the numstat entries (line counts).
 */
async function describeCommit(repo: GitRepo, rev: string): Promise<Landed> {
  const out = await git(['diff-tree', '-r', '-z', '--root', '-M', '--no-ext-diff', '--always', '--raw', '--numstat', `${rev}^{commit}`], { repo })
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
export async function fileStats(repo: GitRepo, commit: string): Promise<FileStat[]> {
  return (await describeCommit(repo, commit)).files
}
