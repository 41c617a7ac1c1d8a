import { hash } from 'node:crypto'
import type { CredentialConfig, CredentialSources } from '../schemas/credential.js'
import { ALL_RIGHTS, type Principal, type Reach, type Rights } from './principal.js'
import { secretKey } from './webhook-signature.js'

/**
 * The credentials a server accepts, each with the principal it authenticates as: the named ones
 * of the configuration file, and GHOST_API_TOKENS / GHOST_WEBHOOK_SECRETS, which keep every
 * right they had (`token-<n>`, `secret-<n>`). Tokens are kept only as SHA-256 digests, whether
 * configured plain or as `sha256:<hex>`.
 */
export interface TokenCredential {
  principal: Principal
  digest: Buffer
}
export interface SecretCredential {
  principal: Principal
  key: Buffer
}
export interface Credentials {
  tokens: TokenCredential[]
  secrets: SecretCredential[]
}

const DIGEST = /^sha256:([0-9a-fA-F]{64})$/

/** The SHA-256 digest a token is compared by: given as `sha256:<hex>`, or computed from the plain token. */
export const tokenDigest = (token: string): Buffer => {
  const given = DIGEST.exec(token)
  return given ? Buffer.from(given[1]!, 'hex') : hash('sha256', token, 'buffer')
}

/** `cancel` implies `read` of the same reach: a cancel answers with the record it cancelled. */
const widest = (a: Reach, b: Reach): Reach => (a === 'all' || b === 'all' ? 'all' : a === 'own' || b === 'own' ? 'own' : 'none')

export function resolveRights(r: CredentialConfig['rights']): Rights {
  if (r.admin === true) return ALL_RIGHTS
  const cancel = r.cancel ?? 'none'
  return { dispatch: r.dispatch === true, read: widest(r.read ?? 'none', cancel), cancel, metrics: r.metrics === true, admin: false }
}

const SIGNATURE_RIGHTS: Rights = Object.freeze({ dispatch: true, read: 'none', cancel: 'none', metrics: false, admin: false })

export function resolveCredentials(config: CredentialSources): Credentials {
  const tokens: TokenCredential[] = []
  const secrets: SecretCredential[] = []
  const addToken = (name: string, token: string, workspaces: Principal['workspaces'], rights: Rights) =>
    tokens.push({ digest: tokenDigest(token), principal: { kind: 'token', id: `token:${tokens.length + 1}`, name, workspaces, rights } })
  const addSecret = (name: string, secret: string, workspaces: Principal['workspaces']) =>
    secrets.push({ key: secretKey(secret), principal: { kind: 'signature', id: `secret:${secrets.length + 1}`, name, workspaces, rights: SIGNATURE_RIGHTS } })

  config.apiTokens.forEach((token, i) => addToken(`token-${i + 1}`, token, '*', ALL_RIGHTS))
  config.webhookSecrets.forEach((secret, i) => addSecret(`secret-${i + 1}`, secret, '*'))
  for (const c of config.credentials) {
    const rights = resolveRights(c.rights)
    const workspaces = rights.admin ? '*' : (c.workspaces ?? [])
    if (c.token !== undefined) addToken(c.name, c.token, workspaces, rights)
    if (c.secret !== undefined) addSecret(c.name, c.secret, workspaces)
  }
  return { tokens, secrets }
}

/** `dispatch, read:own, metrics`: a principal's rights in one line, for logs. */
export function rightsLine(rights: Rights): string {
  if (rights.admin) return 'admin'
  const out: string[] = []
  if (rights.dispatch) out.push('dispatch')
  if (rights.read !== 'none') out.push(`read:${rights.read}`)
  if (rights.cancel !== 'none') out.push(`cancel:${rights.cancel}`)
  if (rights.metrics) out.push('metrics')
  return out.join(', ')
}

/** What the startup log says of each credential: its name, kind and scope, never its value or digest. */
export const describeCredentials = ({ tokens, secrets }: Credentials) =>
  [...tokens, ...secrets].map(({ principal: p }) => ({
    name: p.name,
    kind: p.kind,
    workspaces: p.workspaces === '*' ? '*' : p.workspaces.join(', '),
    rights: rightsLine(p.rights),
  }))

/** A configuration mistake found in the credentials: where (a JSON pointer into the config) and what. */
export interface CredentialProblem {
  path: string
  message: string
}

/**
 * What the schema cannot say: one token or one secret per credential; a secret can only
 * dispatch; some right; workspaces where a right needs them, each one configured; no admin
 * narrowed to workspaces (admin is every workspace); and no value configured twice, which
 * would leave it unclear whose patch a request submits.
 */
export function checkCredentials(
  config: CredentialSources & { workspaces: Record<string, unknown> },
  /** How a path is named in messages: the variable or the config file key. */
  name: (path: string) => string,
): CredentialProblem | null {
  for (const [i, c] of config.credentials.entries()) {
    const at = `/credentials/${i}`
    const { rights } = c
    if ((c.token === undefined) === (c.secret === undefined)) return { path: at, message: `credential "${c.name}" needs exactly one of token or secret` }
    if (!Object.values(rights).some((v) => v !== false)) return { path: `${at}/rights`, message: `credential "${c.name}" grants no right` }
    if (c.secret !== undefined && (rights.read !== undefined || rights.cancel !== undefined || rights.metrics === true || rights.admin === true || rights.dispatch !== true)) {
      return { path: `${at}/rights`, message: `credential "${c.name}" is a webhook secret, which authenticates POST /webhook only: its rights can only be { dispatch: true }` }
    }
    if (rights.admin === true) {
      if (c.workspaces !== undefined && c.workspaces !== '*') return { path: `${at}/workspaces`, message: `credential "${c.name}" is admin, which covers every workspace: leave workspaces out or set "*"` }
      continue
    }
    const needsWorkspaces = rights.dispatch === true || rights.read !== undefined || rights.cancel !== undefined
    if (needsWorkspaces && (c.workspaces === undefined || c.workspaces.length === 0)) {
      return { path: `${at}/workspaces`, message: `credential "${c.name}" needs workspaces for dispatch, read or cancel: a list of names, or "*"` }
    }
    if (Array.isArray(c.workspaces)) {
      const j = c.workspaces.findIndex((w) => !Object.hasOwn(config.workspaces, w))
      if (j >= 0) return { path: `${at}/workspaces/${j}`, message: `credential "${c.name}" names workspace "${c.workspaces[j]}", which is not configured` }
    }
  }

  const seen = new Map<string, string>()
  const once = (value: Buffer, path: string): CredentialProblem | null => {
    const key = value.toString('hex')
    const first = seen.get(key)
    if (first !== undefined) return { path, message: `the same value is configured as ${name(first)} too` }
    seen.set(key, path)
    return null
  }
  const values: [Buffer, string][] = [
    ...config.apiTokens.map((t, i): [Buffer, string] => [tokenDigest(t), `/apiTokens/${i}`]),
    ...config.credentials.flatMap((c, i): [Buffer, string][] => (c.token === undefined ? [] : [[tokenDigest(c.token), `/credentials/${i}/token`]])),
  ]
  for (const [value, path] of values) {
    const problem = once(value, path)
    if (problem) return problem
  }
  seen.clear()
  const keys: [Buffer, string][] = [
    ...config.webhookSecrets.map((s, i): [Buffer, string] => [secretKey(s), `/webhookSecrets/${i}`]),
    ...config.credentials.flatMap((c, i): [Buffer, string][] => (c.secret === undefined ? [] : [[secretKey(c.secret), `/credentials/${i}/secret`]])),
  ]
  for (const [value, path] of keys) {
    const problem = once(value, path)
    if (problem) return problem
  }
  return null
}
