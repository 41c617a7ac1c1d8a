const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * A file seen as text. Valid UTF-8 is decoded as such; anything else is mapped byte for byte to
 * code points 0-255 (latin1), so edits never disturb bytes they do not touch. In that byte mode
 * the patch's own strings are turned into their UTF-8 bytes the same way before matching.
 */
export interface TextView {
  text: string
  /** The patch's string as it must appear in `text`. */
  fromPatch(s: string): string
  encode(s: string): Buffer
  /** '\r\n' when every line ends so; '\n' otherwise. */
  eol: '\n' | '\r\n'
}

export function decodeText(contents: Buffer): TextView {
  let text: string
  let fromPatch: (s: string) => string
  let encode: (s: string) => Buffer
  try {
    text = utf8.decode(contents)
    fromPatch = (s) => s
    encode = (s) => Buffer.from(s, 'utf8')
  } catch {
    text = contents.toString('latin1')
    fromPatch = (s) => Buffer.from(s, 'utf8').toString('latin1')
    encode = (s) => Buffer.from(s, 'latin1')
  }
  return { text, fromPatch, encode, eol: detectEol(text) }
}

export function detectEol(text: string): '\n' | '\r\n' {
  let lf = 0
  let crlf = 0
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    lf++
    if (i > 0 && text.charCodeAt(i - 1) === 13) crlf++
  }
  return lf > 0 && crlf === lf ? '\r\n' : '\n'
}

/** Bare LFs become CRLF, so text written with '\n' fits a CRLF file; existing CRLFs stay. */
export const toEol = (s: string, eol: '\n' | '\r\n'): string => (eol === '\n' ? s : s.replace(/\r?\n/g, '\r\n'))
