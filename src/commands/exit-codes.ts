import type { PatchStatus } from '../schemas/record.js'
import { ConnectionError, ProblemError } from './http-client.js'
import { problemLine, write, type Io } from './render.js'

/** Exit codes of the client commands; part of the CLI contract that scripts rely on. */
export const EXIT = {
  OK: 0,
  /** --wait: the patch failed (a check failed, or the runner lost it too often) and the tree was restored. */
  FAILED: 1,
  /** --wait: the patch was rejected (cannot apply: context not found, unknown path…). */
  REJECTED: 2,
  /** --wait: the patch was cancelled before it ran. */
  CANCELLED: 3,
  /** The server refused the request (problem+json) or could not be reached. */
  SERVER_ERROR: 4,
  /** --wait --timeout: no final status in time; the patch keeps going on the server. */
  TIMEOUT: 5,
  /** Bad flags or arguments, or a file that cannot be read or recognised. */
  USAGE: 64,
} as const

export const exitForStatus = (status: PatchStatus): number =>
  status === 'applied' ? EXIT.OK : status === 'rejected' ? EXIT.REJECTED : status === 'cancelled' ? EXIT.CANCELLED : EXIT.FAILED

export const EXIT_CODES_HELP = `Exit codes:
  0   success (with --wait: the patch was applied)
  1   the patch failed: it applied but a check failed, or the runner lost it; the tree was restored
  2   the patch was rejected: it cannot apply (context not found, path outside the workspace…)
  3   the patch was cancelled
  4   the server refused the request (printed as "code: title — detail") or could not be reached
  5   --timeout elapsed before a final status (the patch keeps going on the server)
  64  usage error: bad flags, or a file that cannot be read or recognised
`

/** A mistake in how the command was called; printed with a pointer to --help. */
export class UsageError extends Error {}

/** Prints an error the way users and scripts expect and returns its exit code; anything unknown is rethrown. */
export function reportError(err: unknown, command: string, io: Io, json: boolean): number {
  if (err instanceof UsageError) {
    write(io.stderr, `ghost-runner ${command}: ${err.message}\nRun "ghost-runner ${command} --help" for usage.`)
    return EXIT.USAGE
  }
  if (err instanceof ProblemError) {
    if (json) write(io.stdout, JSON.stringify(err.problem, null, 2))
    write(io.stderr, problemLine(err.problem))
    return EXIT.SERVER_ERROR
  }
  if (err instanceof ConnectionError) {
    if (json) write(io.stdout, JSON.stringify({ code: 'CONNECTION_FAILED', title: err.message }))
    write(io.stderr, `CONNECTION_FAILED: ${err.message} — is the server running? Set --url or GHOST_URL.`)
    return EXIT.SERVER_ERROR
  }
  throw err
}
