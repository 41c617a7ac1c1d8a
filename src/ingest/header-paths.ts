import type { Operation } from '../schemas/patch.js'

// The file names a diff or V4A patch names in its headers, for the check at the door; the
// runner parses them fully and checks each path again against the real tree.
const DIFF_HEADERS = [
  /^diff --git a\/(.+?) b\/(.+)$/,
  /^(?:---|\+\+\+) (?:[ab]\/)?(.+?)(?:\t.*)?$/,
  /^rename (?:from|to) (.+)$/,
  /^copy (?:from|to) (.+)$/,
]
const V4A_HEADERS = /^\*\*\* (?:Add File|Delete File|Update File|Move to): (.+)$/

export function headerPaths(op: Extract<Operation, { op: 'diff' | 'apply_patch' }>): string[] {
  const out = new Set<string>()
  const lines = (op.op === 'diff' ? op.diff : op.patch).split(/\r?\n/)
  for (const line of lines) {
    if (op.op === 'apply_patch') {
      const m = V4A_HEADERS.exec(line)
      if (m) out.add(m[1]!.trim())
      continue
    }
    for (const re of DIFF_HEADERS) {
      const m = re.exec(line)
      if (!m) continue
      for (const p of m.slice(1)) if (p !== undefined && p !== '/dev/null') out.add(unquote(p))
      break
    }
  }
  return [...out]
}

// git quotes names with unusual bytes: "a/caf\303\251"; C escapes are decoded so checks see the real name.
function unquote(p: string): string {
  if (!p.startsWith('"')) return p
  const inner = p.slice(1, p.endsWith('"') ? -1 : undefined).replace(/^[ab]\//, '')
  const bytes: number[] = []
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!
    if (c !== '\\') {
      bytes.push(...Buffer.from(c))
      continue
    }
    const n = inner[++i] ?? ''
    if (/[0-7]/.test(n)) {
      bytes.push(parseInt(inner.slice(i, i + 3), 8))
      i += 2
    } else bytes.push(({ n: 10, t: 9, '"': 34, '\\': 92 } as Record<string, number>)[n] ?? n.charCodeAt(0))
  }
  return Buffer.from(bytes).toString('utf8')
}
