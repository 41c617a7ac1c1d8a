import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { runGit, type GitRepo } from '../workspace/git.js'
import { explainFailedHunk } from './diff-hints.js'
import { RejectError, type RejectCode } from './errors.js'
import type { Overlay } from './overlay.js'
import { MODE_EXEC, MODE_FILE, MODE_SYMLINK, sameState, type FileState } from './types.js'

const GIT_TIMEOUT_MS = 30_000
const GIT_MAX_BUFFER = 64 * 1024 * 1024

interface GitResult {
  code: number
  stdout: Buffer
  stderr: string
}

/**
 * Every attribute that could run or pick a driver, or change bytes between the tree and git,
 * unset for every path. $GIT_DIR/info/attributes outranks each .gitattributes in the work tree,
 * so one the diff brings along changes nothing. (crlf is text's older name.)
 */
const NEUTRAL_ATTRIBUTES = '* -text -eol -crlf -filter -ident -diff -merge -working-tree-encoding\n'

/**
 * The git dir of a scratch apply, written by hand (no `git init` process, no template hooks):
 * what git needs to take it for a repository, a config holding nothing but the format, and the
 * neutral attributes. git is given it and the work tree explicitly, so the files a diff carries
 * into the work tree (a HEAD, a config, a commondir, a .git file) are only ever files.
 */
async function makeGitDir(gitDir: string): Promise<void> {
  await mkdir(path.join(gitDir, 'objects'), { recursive: true })
  await Promise.all([mkdir(path.join(gitDir, 'refs')), mkdir(path.join(gitDir, 'info'))])
  await Promise.all([
    writeFile(path.join(gitDir, 'HEAD'), 'ref: refs/heads/main\n'),
    writeFile(path.join(gitDir, 'config'), '[core]\n\trepositoryformatversion = 0\n\tbare = false\n'),
    writeFile(path.join(gitDir, 'info', 'attributes'), NEUTRAL_ATTRIBUTES),
  ])
}

async function gitApply(args: string[], repo: GitRepo): Promise<GitResult> {
  const res = await runGit(['apply', ...args], { repo, timeoutMs: GIT_TIMEOUT_MS, maxBuffer: GIT_MAX_BUFFER })
  // Killed by the timeout, missing binary, output overflow: the runner's problem, not the patch's.
  if (res.exitCode === null || res.error !== null) throw new Error(`git apply did not complete: ${res.killed ? 'timed out' : (res.error ?? 'killed')}`)
  return { code: res.exitCode, stdout: res.stdout, stderr: res.stderr.toString('utf8') }
}

const PARSE_FAILURE =
  /corrupt patch|patch fragment without header|No valid patches|unrecognized input|only garbage|lacks filename|bad git-diff|malformed|without full index line|inconsistent|unable to find filename|git apply: bad/i

function applyFailure(stderr: string, paths: readonly string[]): RejectError {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  const errors = lines.filter((l) => /^(error|fatal): /.test(l)).map((l) => l.replace(/^(error|fatal): /, ''))
  const messages = errors.length > 0 ? errors : lines
  const first = messages[0] ?? 'git apply failed'
  let code: RejectCode = 'CONTEXT_NOT_FOUND'
  if (messages.some((m) => PARSE_FAILURE.test(m))) code = 'PATCH_PARSE_ERROR'
  else if (/already exists/.test(first)) code = 'FILE_EXISTS'
  else if (/No such file or directory|does not exist/.test(first)) code = 'FILE_NOT_FOUND'
  const named = paths.filter((p) => first.includes(`${p}:`)).sort((a, b) => b.length - a.length)[0]
  return new RejectError(code, `diff does not apply: ${first}`, { detail: messages.join('\n'), ...(named ? { path: named } : {}) })
}

/** `git apply --numstat -z` names one path per file: the new one, or the old one with -R. */
function parseNumstat(out: Buffer): string[] {
  const tokens = out.toString('utf8').split('\0')
  const paths: string[] = []
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] ?? ''
    if (t === '') continue
    const name = t.split('\t').slice(2).join('\t')
    if (name !== '') paths.push(name)
    else paths.push(tokens[++i] ?? '', tokens[++i] ?? '')
  }
  return paths.filter((p) => p !== '')
}

async function touchedPaths(repo: GitRepo, patchFile: string): Promise<string[]> {
  const seen = new Set<string>()
  // Both directions at once: the two git processes overlap instead of queueing.
  const runs = await Promise.all([['--numstat', '-z', patchFile], ['--numstat', '-z', '-R', patchFile]].map((args) => gitApply(args, repo)))
  for (const res of runs) {
    if (res.code !== 0) {
      const e = applyFailure(res.stderr, [])
      throw new RejectError('PATCH_PARSE_ERROR', e.message, e.detail === undefined ? {} : { detail: e.detail })
    }
    for (const p of parseNumstat(res.stdout)) seen.add(p)
  }
  return [...seen]
}

async function materialise(tree: string, p: string, state: FileState): Promise<void> {
  const abs = path.join(tree, ...p.split('/'))
  await mkdir(path.dirname(abs), { recursive: true })
  if (state.mode === MODE_SYMLINK) {
    await symlink(state.contents.toString('utf8'), abs)
  } else {
    await writeFile(abs, state.contents)
    await chmod(abs, state.mode === MODE_EXEC ? 0o755 : 0o644)
  }
}

async function readBack(tree: string, p: string): Promise<FileState | null> {
  const abs = path.join(tree, ...p.split('/'))
  try {
    const st = await lstat(abs)
    if (st.isSymbolicLink()) return { contents: await readlink(abs, { encoding: 'buffer' }), mode: MODE_SYMLINK }
    if (st.isFile()) return { contents: await readFile(abs), mode: st.mode & 0o100 ? MODE_EXEC : MODE_FILE }
    return null
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return null
    throw err
  }
}

/**
 * Applies a git-style unified diff by letting `git apply` do it, without fuzz, in a scratch
 * work tree holding only the overlay's current version of the files the diff names; the
 * results are read back into the overlay, which re-checks every path and symlink they create.
 * The git dir and the patch file sit beside the work tree, out of the diff's reach.
 */
export async function applyDiff(overlay: Overlay, diff: string, scratchDir = os.tmpdir()): Promise<void> {
  const scratch = await mkdtemp(path.join(scratchDir, 'ghost-diff-'))
  try {
    const repo = { root: path.join(scratch, 'tree'), gitDir: path.join(scratch, 'git') }
    const tree = repo.root
    const patchFile = path.join(scratch, 'patch.diff')
    await Promise.all([mkdir(tree), makeGitDir(repo.gitDir), writeFile(patchFile, diff.endsWith('\n') ? diff : `${diff}\n`)])

    const paths = await touchedPaths(repo, patchFile)
    const before = new Map<string, FileState | null>()
    for (const p of paths) before.set(p, await overlay.read(p))
    for (const [p, state] of before) if (state !== null) await materialise(tree, p, state)

    const res = await gitApply(['--whitespace=nowarn', patchFile], repo)
    if (res.code !== 0) throw explainFailedHunk(applyFailure(res.stderr, paths), diff, before)

    const after = new Map<string, FileState | null>()
    for (const p of paths) after.set(p, await readBack(tree, p))
    // Removals first: a diff may turn a file into a directory of the same name.
    for (const [p, state] of after) if (state === null && before.get(p) !== null) await overlay.remove(p)
    for (const [p, state] of after) if (state !== null && !sameState(before.get(p) ?? null, state)) await overlay.write(p, state)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}
