import { Type, type Static } from '@sinclair/typebox'

// Who may do what, as configuration names it: each bearer token or webhook secret under a name,
// limited to workspaces and rights. GHOST_API_TOKENS and GHOST_WEBHOOK_SECRETS stay as
// credentials with every right. Apart from src/config.ts, which validates a configuration with
// src/auth/credentials.ts: that module reads these types without importing the configuration.

export const WebhookSecret = Type.String({ pattern: '^whsec_[A-Za-z0-9+/=]{8,}$' })

const CredentialName = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$',
  description: 'Recorded on every patch it submits or cancels, and what `own` means. Several credentials may share a name while one replaces another.',
})
const OwnOrAll = (what: string) =>
  Type.Union([Type.Literal('own'), Type.Literal('all')], { description: `${what}: \`own\`, the patches submitted under this name; \`all\`, every patch in its workspaces` })

export const CredentialConfig = Type.Object(
  {
    name: CredentialName,
    token: Type.Optional(
      Type.String({
        pattern: '^(?:sha256:[0-9a-fA-F]{64}|(?!sha256:)\\S{16,})$',
        description: 'A bearer token (at least 16 characters), or `sha256:<hex>`, the SHA-256 digest of one, so the file does not hold the token itself',
      }),
    ),
    secret: Type.Optional(
      Type.String({ pattern: WebhookSecret.pattern, description: 'A `whsec_` Standard Webhooks secret: it authenticates POST /webhook only, so it can only dispatch' }),
    ),
    workspaces: Type.Optional(
      Type.Union([Type.Literal('*'), Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true })], {
        description: 'The workspaces it may target and see patches of: names, or `*` for all; none when left out',
      }),
    ),
    rights: Type.Object(
      {
        dispatch: Type.Optional(Type.Boolean({ description: 'Submit patches' })),
        read: Type.Optional(OwnOrAll('Get, list and follow patches')),
        cancel: Type.Optional(OwnOrAll('Cancel queued patches (implies read of the same reach)')),
        metrics: Type.Optional(Type.Boolean({ description: 'GET /metrics' })),
        admin: Type.Optional(Type.Boolean({ description: 'Every right on every workspace' })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)
export type CredentialConfig = Static<typeof CredentialConfig>

/** What src/auth/credentials.ts reads of a configuration. */
export interface CredentialSources {
  apiTokens: string[]
  webhookSecrets: string[]
  credentials: CredentialConfig[]
}
