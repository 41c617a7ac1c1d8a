import type { BaseLogger } from 'pino'

/** The slice of pino the store uses, so tests can pass a plain recorder. */
export type StoreLogger = Pick<BaseLogger, 'debug' | 'info' | 'warn' | 'error'>
