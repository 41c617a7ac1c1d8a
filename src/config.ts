import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parse as parseYaml } from 'yaml'
import { PatchStatus } from './schemas/record.js'

const Argv = Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })

export const WorkspaceConfig = Type.Object(
  {
    path: Type.String({ minLength: 1 }),
    branch: Type.String({ minLength: 1, default: 'main' }),
    remote: Type.Optional(Type.String({ minLength: 1, description: 'git remote URL or path; fetched before and pushed after each patch' })),
    checks: Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' }), Argv, { default: {} }),
    checkTimeoutMs: Type.Integer({ minimum: 100, default: 600_000 }),
    author: Type.Object(
      { name: Type.String({ minLength: 1 }), email: Type.String({ minLength: 3 }) },
      { default: { name: 'Ghost Runner', email: 'ghost-runner@localhost' } },
    ),
    tagPrefix: Type.String({ default: '' }),
  },
  { additionalProperties: false },
)
export type WorkspaceConfig = Static<typeof WorkspaceConfig>

const WebhookSecret = Type.String({ pattern: '^whsec_[A-Za-z0-9+/=]{8,}$' })

/** A destination for outbound notifications: only configuration names one, never a payload. */
export const NotificationTarget = Type.Object(
  {
    url: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 }),
    secret: WebhookSecret,
    events: Type.Optional(Type.Array(PatchStatus, { minItems: 1, uniqueItems: true, description: 'Statuses to notify; all when left out' })),
  },
  { additionalProperties: false },
)
export type NotificationTarget = Static<typeof NotificationTarget>

export const Config = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 5555 }),
    dataDir: Type.String({ minLength: 1, default: './data' }),
    store: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], { default: 'sqlite' }),
    databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
    // Several deployments (or test runs) can share one database, each in its own schema.
    databaseSchema: Type.String({ pattern: '^[a-z_][a-z0-9_]{0,54}$', default: 'ghost_runner', description: 'PostgreSQL schema holding the tables' }),
    webhookSecrets: Type.Array(WebhookSecret, { default: [] }),
    apiTokens: Type.Array(Type.String({ minLength: 16 }), { default: [] }),
    workspaces: Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }), WorkspaceConfig, { default: {} }),
    logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
    publicUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    drainDelayMs: Type.Integer({ minimum: 0, default: 5000 }),
    shutdownTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
    // Counts and timings only, but they still describe the deployment (targets, runners, load):
    // behind the API's credentials unless a trusted network makes a scraper token needless.
    metricsPublic: Type.Boolean({ default: false, description: 'Serve GET /metrics without credentials' }),
    health: Type.Object(
      {
        failuresToFail: Type.Integer({ minimum: 1, default: 1 }),
        passesToRecover: Type.Integer({ minimum: 1, default: 1 }),
        intervalMs: Type.Integer({ minimum: 50, default: 2000 }),
        timeoutMs: Type.Integer({ minimum: 10, default: 1500, description: 'Default probe timeout; a probe exceeding it reports unknown' }),
        exposeDetail: Type.Boolean({ default: false, description: 'Show failure output to anonymous callers' }),
        eventLoopWarnMs: Type.Number({ minimum: 1, default: 200 }),
        eventLoopFailMs: Type.Number({ minimum: 1, default: 1000 }),
        heapWarnPercent: Type.Number({ minimum: 1, maximum: 100, default: 85 }),
        heapFailPercent: Type.Number({ minimum: 1, maximum: 100, default: 98 }),
        diskWarnMb: Type.Number({ minimum: 0, default: 1024 }),
        diskFailMb: Type.Number({ minimum: 0, default: 100 }),
        runnerStaleMs: Type.Integer({ minimum: 100, default: 10_000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    runner: Type.Object(
      {
        leaseMs: Type.Integer({ minimum: 500, default: 30_000 }),
        heartbeatMs: Type.Integer({ minimum: 50, default: 2000 }),
        pollMs: Type.Integer({ minimum: 10, default: 500 }),
        maxAttempts: Type.Integer({ minimum: 1, default: 3 }),
        concurrency: Type.Integer({ minimum: 1, default: 4 }),
      },
      { default: {}, additionalProperties: false },
    ),
    notifications: Type.Array(NotificationTarget, { default: [] }),
    notify: Type.Object(
      {
        timeoutMs: Type.Integer({ minimum: 50, default: 10_000, description: 'Deadline of one delivery attempt' }),
        maxAttempts: Type.Integer({ minimum: 1, default: 10 }),
        backoffMs: Type.Integer({ minimum: 1, default: 2000, description: 'Delay before the first retry; doubles with each attempt' }),
        maxBackoffMs: Type.Integer({ minimum: 1, default: 3_600_000 }),
        pollMs: Type.Integer({ minimum: 10, default: 1000 }),
        concurrency: Type.Integer({ minimum: 1, default: 4 }),
      },
      { default: {}, additionalProperties: false },
    ),
    limits: Type.Object(
      {
        queueDepth: Type.Integer({ minimum: 1, default: 10_000 }),
        ratePerMinute: Type.Integer({ minimum: 1, default: 600 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)
export type Config = Static<typeof Config>

/** Thrown for any bad configuration value; the message is one line naming the variable. */
export class ConfigError extends Error {}

/** Environment variables and the flags of the same names. */
const VARIABLES = {
  GHOST_HOST: { key: 'host', flag: 'host' },
  GHOST_PORT: { key: 'port', flag: 'port' },
  GHOST_DATA_DIR: { key: 'dataDir', flag: 'data-dir' },
  GHOST_STORE: { key: 'store', flag: 'store' },
  DATABASE_URL: { key: 'databaseUrl', flag: 'database-url' },
  GHOST_DATABASE_SCHEMA: { key: 'databaseSchema', flag: 'database-schema' },
  GHOST_WEBHOOK_SECRETS: { key: 'webhookSecrets', flag: 'webhook-secrets' },
  GHOST_API_TOKENS: { key: 'apiTokens', flag: 'api-tokens' },
  GHOST_WORKSPACES: { key: 'workspaces', flag: 'workspaces' },
  GHOST_PUBLIC_URL: { key: 'publicUrl', flag: 'public-url' },
  GHOST_DRAIN_DELAY_MS: { key: 'drainDelayMs', flag: 'drain-delay-ms' },
  LOG_LEVEL: { key: 'logLevel', flag: 'log-level' },
  GHOST_METRICS_PUBLIC: { key: 'metricsPublic', flag: 'metrics-public' },
  // The secret comes from GHOST_NOTIFY_SECRET (below): one secret signs every URL given here.
  GHOST_NOTIFY_URLS: { key: 'notifications', flag: 'notify-urls' },
} as const satisfies Record<string, { key: keyof Config; flag: string }>
type Variable = keyof typeof VARIABLES

export const CONFIG_FLAGS = Object.fromEntries(
  [...Object.values(VARIABLES).map((v) => v.flag), 'config', 'notify-secret'].map((f) => [f, { type: 'string' as const }]),
)

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean)

function fromText(variable: Variable, text: string): unknown {
  switch (variable) {
    case 'GHOST_WEBHOOK_SECRETS':
    case 'GHOST_API_TOKENS':
      return list(text)
    case 'GHOST_WORKSPACES': {
      const out: Record<string, { path: string }> = {}
      for (const entry of list(text)) {
        const eq = entry.indexOf('=')
        if (eq <= 0 || eq === entry.length - 1) throw new ConfigError(`${variable}: expected name=path[,name=path…], got "${entry}"`)
        out[entry.slice(0, eq)] = { path: entry.slice(eq + 1) }
      }
      return out
    }
    case 'GHOST_NOTIFY_URLS':
      return list(text).map((url) => ({ url }))
    default:
      return text
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`GHOST_CONFIG: cannot read ${file}: ${(err as Error).message}`)
  }
  try {
    const parsed: unknown = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text)
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object')
    return parsed as Record<string, unknown>
  } catch (err) {
    throw new ConfigError(`GHOST_CONFIG: ${file} is not a valid JSON or YAML object: ${(err as Error).message}`)
  }
}

function nameFor(path: string, fromFile: Set<string>): string {
  const top = path.split('/')[1] ?? ''
  const variable = (Object.keys(VARIABLES) as Variable[]).find((v) => VARIABLES[v].key === top)
  if (variable && !fromFile.has(top)) return variable
  return `GHOST_CONFIG${path.replace(/\//g, '.')}`
}

function describe(schema: { anyOf?: { const?: unknown }[] }, message: string): string {
  const options = schema.anyOf?.map((s) => s.const)
  return options?.every((o) => typeof o === 'string') ? `expected one of ${options.join(', ')}` : message
}

// Value.Default does not descend into Record values, so each workspace gets its defaults here.
function withDefaults(raw: unknown): unknown {
  const value = Value.Default(Config, Value.Convert(Config, raw)) as { workspaces?: Record<string, unknown> }
  if (value.workspaces && typeof value.workspaces === 'object') {
    for (const [name, ws] of Object.entries(value.workspaces)) value.workspaces[name] = Value.Default(WorkspaceConfig, Value.Convert(WorkspaceConfig, ws))
  }
  return value
}

/**
 * Builds the configuration from (lowest to highest precedence) defaults, the GHOST_CONFIG file,
 * environment variables and command-line flags, and validates it against the schema.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, args: string[] = [], cwd = process.cwd()): Config {
  const { values: flags } = parseArgs({ args, options: CONFIG_FLAGS, strict: false, allowPositionals: true })
  const raw: Record<string, unknown> = {}
  const configFile = (flags.config as string | undefined) ?? env.GHOST_CONFIG
  const fromFile = new Set<string>()
  if (configFile) {
    for (const [k, v] of Object.entries(readConfigFile(resolve(cwd, configFile)))) {
      raw[k] = v
      fromFile.add(k)
    }
  }
  for (const variable of Object.keys(VARIABLES) as Variable[]) {
    const { key, flag } = VARIABLES[variable]
    const text = (flags[flag] as string | undefined) ?? env[variable]
    if (text === undefined || text === '') continue
    raw[key] = fromText(variable, text)
    fromFile.delete(key)
  }
  if (raw.databaseUrl && raw.store === undefined) raw.store = 'postgres'
  if (Array.isArray(raw.notifications) && !fromFile.has('notifications')) {
    const secret = (flags['notify-secret'] as string | undefined) ?? env.GHOST_NOTIFY_SECRET
    // Checked here so that the message names the variable; it never echoes the value.
    if (!secret) throw new ConfigError('GHOST_NOTIFY_SECRET: required with GHOST_NOTIFY_URLS (a whsec_… secret that signs the notifications)')
    if (!new RegExp(WebhookSecret.pattern!).test(secret)) throw new ConfigError('GHOST_NOTIFY_SECRET: expected a whsec_… secret')
    for (const target of raw.notifications as Record<string, unknown>[]) target.secret = secret
  }

  const converted = withDefaults(raw)
  const error = Value.Errors(Config, converted).First()
  if (error) {
    const where = error.path === '' ? 'configuration' : nameFor(error.path, fromFile)
    throw new ConfigError(`${where}: ${describe(error.schema as { anyOf?: { const?: unknown }[] }, error.message)}${error.path.split('/').length > 2 ? ` (at ${error.path})` : ''}`)
  }
  const config = converted as Config
  checkNotifications(config, (path) => nameFor(path, fromFile))
  if (config.store === 'postgres' && !config.databaseUrl) throw new ConfigError('DATABASE_URL: required when GHOST_STORE=postgres')
  config.dataDir = resolve(cwd, config.dataDir)
  // Out of the box there is one workspace, `default`, a git repository the runner creates.
  if (Object.keys(config.workspaces).length === 0) {
    config.workspaces.default = Value.Default(WorkspaceConfig, { path: join(config.dataDir, 'workspaces', 'default') }) as WorkspaceConfig
  }
  for (const ws of Object.values(config.workspaces)) ws.path = resolve(cwd, ws.path)
  return config
}

/** The configuration tests and embedders start from: defaults plus overrides, validated. */
export function defineConfig(overrides: Partial<Config> & { dataDir: string }): Config {
  const config = withDefaults(structuredClone(overrides)) as Config
  const error = Value.Errors(Config, config).First()
  if (error) throw new ConfigError(`config${error.path.replace(/\//g, '.')}: ${error.message}`)
  checkNotifications(config, (path) => `config${path.replace(/\//g, '.')}`)
  return config
}

/** What the schema cannot say: each URL parses, and names one destination only once. */
function checkNotifications(config: Config, name: (path: string) => string): void {
  const seen = new Set<string>()
  config.notifications.forEach((target, i) => {
    let url: URL
    try {
      url = new URL(target.url)
    } catch {
      throw new ConfigError(`${name(`/notifications/${i}/url`)}: not a valid URL`)
    }
    if (seen.has(url.href)) throw new ConfigError(`${name(`/notifications/${i}/url`)}: the same URL is configured twice`)
    seen.add(url.href)
  })
}

export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host)
