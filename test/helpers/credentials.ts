import { createHash } from 'node:crypto'
import type { ConfigOverrides, WorkspaceInput } from '../../src/config.js'
import { gitRepo } from './app.js'

/**
 * A server with two workspaces, `default` and `docs`, and one credential of each kind the
 * README describes; with testConfig's GHOST_API_TOKENS token (`token-1`, every right) and
 * GHOST_WEBHOOK_SECRETS secret (`secret-1`, dispatch anywhere) beside them.
 */
export const TOKENS = {
  /** admin */
  operator: 'operator-token-0123456789abcdef',
  /** docs: dispatch, read own, cancel own */
  docsAgent: 'docs-agent-token-0123456789abcdef',
  /** The same credential's next token during a rotation, configured as its digest. */
  docsAgentNext: 'docs-agent-next-token-0123456789abcdef',
  /** docs: dispatch only */
  docsDispatcher: 'docs-dispatcher-token-0123456789abcdef',
  /** docs: dispatch, read all, cancel own */
  docsLead: 'docs-lead-token-0123456789abcdef',
  /** every workspace: read all */
  monitor: 'monitor-token-0123456789abcdef',
  /** default: read all, cancel all */
  defaultOperator: 'default-operator-token-0123456789abcdef',
  /** metrics only */
  scraper: 'scraper-token-0123456789abcdef',
} as const

/** A webhook secret that may dispatch to `docs` only. */
export const DOCS_SECRET = 'whsec_ZG9jcy1zaWduZXItc2VjcmV0LWtleS0wMTIzNDU2'

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex')

export const workspace = (path: string): WorkspaceInput => ({
  path,
  checks: { test: ['node', '-e', 'process.exit(0)'] },
  checkTimeoutMs: 10_000,
  author: { name: 'Ghost Runner', email: 'ghost@example.com' },
})

export function scopedOverrides(): ConfigOverrides {
  const docsAgent = { dispatch: true, read: 'own', cancel: 'own' } as const
  return {
    workspaces: { default: workspace(gitRepo()), docs: workspace(gitRepo()) },
    credentials: [
      { name: 'operator', token: TOKENS.operator, rights: { admin: true } },
      { name: 'docs-agent', token: TOKENS.docsAgent, workspaces: ['docs'], rights: docsAgent },
      { name: 'docs-agent', token: `sha256:${sha256Hex(TOKENS.docsAgentNext)}`, workspaces: ['docs'], rights: docsAgent },
      { name: 'docs-dispatcher', token: TOKENS.docsDispatcher, workspaces: ['docs'], rights: { dispatch: true } },
      { name: 'docs-lead', token: TOKENS.docsLead, workspaces: ['docs'], rights: { dispatch: true, read: 'all', cancel: 'own' } },
      { name: 'monitor', token: TOKENS.monitor, workspaces: '*', rights: { read: 'all' } },
      { name: 'default-operator', token: TOKENS.defaultOperator, workspaces: ['default'], rights: { read: 'all', cancel: 'all' } },
      { name: 'scraper', token: TOKENS.scraper, rights: { metrics: true } },
      { name: 'docs-signer', secret: DOCS_SECRET, workspaces: ['docs'], rights: { dispatch: true } },
    ],
  }
}

/** A patch for `target` that every workspace here accepts; `extra` overrides fields. */
export const patchFor = (target: string, extra: Record<string, unknown> = {}) => ({
  target,
  description: `a patch for ${target}`,
  operations: [{ op: 'write', path: 'scoped.txt', contents: `${target}\n` }],
  ...extra,
})
