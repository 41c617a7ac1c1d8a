// The one rule for tag names, shared by the door (a 422 before anything is stored) and the
// runner (which also knows every branch of the workspace). Pure: no git process is asked.

/** Only these characters in a tag: git allows `$`, backticks and parentheses; shell scripts downstream should not meet them. */
const TAG_CHARS = /^[A-Za-z0-9._+/-]+$/

/** A file name holds at most 255 bytes, and a loose tag is a file under refs/tags. */
export const TAG_MAX_LENGTH = 255

/**
 * Names git looks up before refs/tags/<name> (HEAD, FETCH_HEAD, ORIG_HEAD, MERGE_HEAD,
 * CHERRY_PICK_HEAD, … live in the git dir itself), in any case: on a case-insensitive file
 * system `head` is HEAD.
 */
const ROOT_REF = /^(?:[A-Z_]*_)?HEAD$/i
const OTHER_ROOT_REFS = new Set(['AUTO_MERGE', 'BISECT_EXPECTED_REV', 'NOTES_MERGE_PARTIAL', 'NOTES_MERGE_REF', 'MERGE_AUTOSTASH'])

/**
 * Names git reads as a commit when no ref has them: an abbreviated or full object id (4 to 64 hex
 * digits) and `git describe` output (`…-g<hex>`). A ref wins over both, so such a tag would make
 * `git show 3f2a9c1` show the tag's commit instead of the commit whose id starts so.
 */
const COMMIT_LIKE = /^[0-9a-f]{4,64}$|-g[0-9a-f]{4,64}$/i

// eslint-disable-next-line no-control-regex -- control characters are exactly what git forbids
const BAD_REF_CHARS = /[\x00-\x20\x7f~^:?*[\\]/

/**
 * Why git check-ref-format (no options) would refuse `refname`, or null: git's refs.c rules,
 * so the door can say it without a git process.
 */
export function refFormatProblem(refname: string): string | null {
  if (refname === '@') return 'the name "@" is reserved'
  if (BAD_REF_CHARS.test(refname)) return 'a ref name may not contain spaces, control characters or any of ~ ^ : ? * [ \\'
  if (refname.includes('..')) return 'a ref name may not contain ".."'
  if (refname.includes('@{')) return 'a ref name may not contain "@{"'
  const parts = refname.split('/')
  if (parts.some((p) => p === '')) return 'a ref name may not start or end with "/" or contain "//"'
  if (parts.some((p) => p.startsWith('.'))) return 'no part of a ref name may start with "."'
  if (parts.some((p) => p.endsWith('.lock'))) return 'no part of a ref name may end with ".lock"'
  if (refname.endsWith('.')) return 'a ref name may not end with "."'
  if (parts.length < 2) return 'a ref name needs at least two parts'
  return null
}

/**
 * Why `name` (the full tag name, the workspace's tagPrefix included) cannot be a tag, or null.
 * Besides git's syntax and the safe alphabet, a tag may not make another name ambiguous: git
 * resolves `main` to refs/tags/main before refs/heads/main, and HEAD-like names before both,
 * so a tag named like a branch (any of `branches`), like HEAD, like a commit id, or starting with
 * `refs/` would change what commands in the workspace mean.
 */
export function tagNameProblem(name: string, branches: Iterable<string>): string | null {
  if (name.length === 0) return 'a tag may not be empty'
  if (name.length > TAG_MAX_LENGTH) return `a tag may be at most ${TAG_MAX_LENGTH} characters`
  if (name.startsWith('-')) return 'a tag may not start with "-"'
  if (!TAG_CHARS.test(name)) return 'a tag may contain only letters, digits and . _ + / -'
  const format = refFormatProblem(`refs/tags/${name}`)
  if (format !== null) return format.replace('a ref name', 'a tag')
  if (name.startsWith('refs/')) return 'a tag may not start with "refs/": git would read it as a full ref name'
  if (name === '@' || ROOT_REF.test(name) || OTHER_ROOT_REFS.has(name.toUpperCase())) return `"${name}" is a name git keeps for its own refs, like HEAD`
  if (COMMIT_LIKE.test(name)) return `"${name}" reads as a commit id: the tag would shadow the commit whose id starts so`
  for (const branch of branches) if (branch === name) return `a branch is named "${name}": the tag would shadow it`
  return null
}
