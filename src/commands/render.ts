import type { PatchRecord, PatchStatus } from '../schemas/record.js'
import type { Problem } from '../schemas/problem.js'

/** Where a command writes, and whether a person is watching (colour, widths). */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
}

export const write = (stream: NodeJS.WritableStream, text: string) => stream.write(text.endsWith('\n') ? text : `${text}\n`)

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, cyan: 36, dim: 2, bold: 1 } as const
type Colour = keyof typeof CODES

/** ANSI colour only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function painter(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv) {
  const on = stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb'
  return (colour: Colour, text: string) => (on ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text)
}
export type Paint = ReturnType<typeof painter>

const STATUS_COLOURS: Record<PatchStatus, Colour> = {
  queued: 'dim',
  running: 'cyan',
  applied: 'green',
  failed: 'red',
  rejected: 'yellow',
  cancelled: 'dim',
}
export const paintStatus = (paint: Paint, status: PatchStatus) => paint(STATUS_COLOURS[status], status)

/** `5s`, `3m`, `2h`, `4d`: how long ago, to the largest whole unit. */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86_400) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86_400)}d`
}

// eslint-disable-next-line no-control-regex -- ANSI escapes are exactly what must not count as width
const visible = (s: string) => s.replace(/\x1b\[\d+m/g, '').length

/** Left-aligned columns; the last one is cut to fit `width` when there is one (a terminal). */
export function table(header: string[], rows: string[][], paint: Paint, width?: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))))
  const line = (cells: string[]) => {
    const text = cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visible(c)))).join('  ').trimEnd()
    if (!width || visible(text) <= width) return text
    const last = cells[cells.length - 1]!
    const room = Math.max(1, visible(last) - (visible(text) - width) - 1)
    return line([...cells.slice(0, -1), `${last.slice(0, room)}…`])
  }
  return [paint('bold', line(header)), ...rows.map(line)].join('\n')
}

/** `code: title — detail`, the one line every server error becomes. */
export const problemLine = (p: Problem) => `${p.code}: ${p.title}${p.detail ? ` — ${p.detail}` : ''}`

const TAIL_LINES = 20

/** Why a patch did not land: its reason code and message, the failing line or hunk, the failing check's output. */
export function failureReport(record: PatchRecord, paint: Paint): string {
  const out: string[] = []
  const error = record.error
  const last = record.events[record.events.length - 1]
  out.push(`${paintStatus(paint, record.status)} ${record.id}: ${error ? `${paint('bold', error.code)}: ${error.message}` : (last?.reason ?? record.status)}`)
  if (error?.path !== undefined) out.push(`  path: ${error.path}${error.operation !== undefined ? ` (operation ${error.operation})` : ''}`)
  const failed = record.result?.checks.find((c) => c.timed_out || c.exit_code !== 0)
  if (failed) {
    const how = failed.timed_out ? 'timed out' : failed.signal ? `killed by ${failed.signal}` : `exit ${failed.exit_code}`
    out.push(`  check ${failed.name} (${failed.argv.join(' ')}) ${how} after ${Math.round(failed.duration_ms)} ms; output tail:`)
    out.push(indent(lastLines(failed.output_tail, TAIL_LINES)))
  } else if (error?.detail) {
    out.push('  detail:', indent(lastLines(error.detail, TAIL_LINES)))
  }
  return out.join('\n')
}

const lastLines = (text: string, n: number) => text.replace(/\s+$/, '').split('\n').slice(-n).join('\n')
const indent = (text: string) => text.split('\n').map((l) => `    ${l}`).join('\n')
