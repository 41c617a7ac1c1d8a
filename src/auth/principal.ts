import { Type, type Static } from '@sinclair/typebox'

/** How far a right reaches: nothing, the patches this credential's name submitted, or every patch in its workspaces. */
export const Reach = Type.Union([Type.Literal('none'), Type.Literal('own'), Type.Literal('all')], { title: 'Reach' })
export type Reach = Static<typeof Reach>

/** What a credential may do, resolved from its configuration (admin already expanded, cancel already implying read). */
export const Rights = Type.Object(
  {
    dispatch: Type.Boolean({ description: 'Submit patches (POST /webhook, the dispatch_patch tool) to its workspaces' }),
    read: Reach,
    cancel: Reach,
    metrics: Type.Boolean({ description: 'GET /metrics' }),
    admin: Type.Boolean({ description: 'Every right on every workspace' }),
  },
  { title: 'Rights' },
)
export type Rights = Static<typeof Rights>

/** The workspaces a credential may touch: a list of names, or `*` for all of them. */
export const WorkspaceScope = Type.Union([Type.Literal('*'), Type.Array(Type.String())], { title: 'WorkspaceScope' })
export type WorkspaceScope = Static<typeof WorkspaceScope>

/**
 * Who a request authenticated as: which credential, never its value, and what it may do.
 * Attached to the request by the auth plugin and read by whatever is granted or counted per
 * caller (rights, rate limits, stream caps).
 */
export const Principal = Type.Object(
  {
    kind: Type.Union([Type.Literal('token'), Type.Literal('signature'), Type.Literal('anonymous')], {
      description: '`token`: a bearer token; `signature`: a Standard Webhooks secret (POST /webhook only); `anonymous`: a server without credentials, on loopback',
    }),
    id: Type.String({
      description: 'Stable while the configuration is: `token:<n>` / `secret:<n>`, the credential\'s 1-based position among the tokens or the secrets; `anonymous`. Never derived from the value.',
    }),
    name: Type.String({
      description: 'The configured name (`token-<n>` / `secret-<n>` for GHOST_API_TOKENS / GHOST_WEBHOOK_SECRETS; `anonymous`). Patches record it; `own` rights mean patches submitted under it, so credentials sharing a name (a rotation) share their patches.',
    }),
    workspaces: WorkspaceScope,
    rights: Rights,
  },
  { title: 'Principal' },
)
export type Principal = Static<typeof Principal>

export const ALL_RIGHTS: Rights = Object.freeze({ dispatch: true, read: 'all', cancel: 'all', metrics: true, admin: true })

/** A server without credentials (loopback only) trusts every caller with everything. */
export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', id: 'anonymous', name: 'anonymous', workspaces: '*', rights: ALL_RIGHTS })

/**
 * The bucket a caller's requests are counted in. Without credentials every caller is
 * `anonymous`, so there the address tells them apart.
 */
export const principalKey = (principal: Principal, address: string): string =>
  principal.kind === 'anonymous' ? `address:${address}` : `principal:${principal.id}`
