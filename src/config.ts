import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Value } from '@sinclair/typebox/value'
import { Config, WorkspaceConfig } from './config/schema.js'
import { CONFIG_FLAGS, VARIABLES, fromText, nameFor, readConfigFile, type Variable } from './config/sources.js'
import { ConfigError, checkNotifications, credentialsOrThrow, describe, withDefaults } from './config/validate.js'
import { WebhookSecret } from './schemas/credential.js'

// The configuration: its schema (config/schema.ts), where settings come from (config/sources.ts)
// and what is checked beyond the schema (config/validate.ts). Everything else imports it from here.
export { CheckLimits, Config, NotificationTarget, WorkspaceConfig } from './config/schema.js'
export { ConfigError } from './config/validate.js'
export { isLoopback } from './config/loopback.js'

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
  if (configFile) config.configFile = resolve(cwd, configFile)
  // Out of the box there is one workspace, `default`, a git repository the runner creates.
  if (Object.keys(config.workspaces).length === 0) {
    config.workspaces.default = Value.Default(WorkspaceConfig, { path: join(config.dataDir, 'workspaces', 'default') }) as WorkspaceConfig
  }
  for (const ws of Object.values(config.workspaces)) ws.path = resolve(cwd, ws.path)
  credentialsOrThrow(config, (path) => nameFor(path, fromFile))
  return config
}

/** A workspace as an embedder writes it: every setting with a default may be left out. */
export type WorkspaceInput = Partial<WorkspaceConfig> & Pick<WorkspaceConfig, 'path'>
type Section = 'health' | 'runner' | 'notify' | 'limits' | 'retention'
/**
 * What defineConfig takes: any setting, of each section only the settings that differ, and
 * workspaces with their defaulted settings left out.
 */
export type ConfigOverrides = Partial<Omit<Config, Section | 'workspaces'>> & { [K in Section]?: Partial<Config[K]> } & { workspaces?: Record<string, WorkspaceInput> }

/** The configuration tests and embedders start from: defaults plus overrides, validated. */
export function defineConfig(overrides: ConfigOverrides & { dataDir: string }): Config {
  const config = withDefaults(structuredClone(overrides)) as Config
  const error = Value.Errors(Config, config).First()
  if (error) throw new ConfigError(`config${error.path.replace(/\//g, '.')}: ${error.message}`)
  const name = (path: string) => `config${path.replace(/\//g, '.')}`
  checkNotifications(config, name)
  credentialsOrThrow(config, name)
  return config
}
