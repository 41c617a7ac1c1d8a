import type { BaseLogger, Bindings } from 'pino'

/** The slice of pino the runner uses; a Fastify logger and a plain pino logger both fit. */
export interface RunnerLogger extends Pick<BaseLogger, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> {
  child(bindings: Bindings): RunnerLogger
}
