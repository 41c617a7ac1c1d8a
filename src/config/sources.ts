import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type { Config } from './schema.js'
import { ConfigError } from './validate.js'

// Where a setting can come from besides the defaults: a variable, the flag of the same name, or
// the GHOST_CONFIG file; and the name an error message gives a setting, after where it came from.

/** Environment variables and the flags of the same names. */
export const VARIABLES = {
  GHOST_HOST: { key: 'host', flag: 'host' },
  GHOST_PORT: { key: 'port', flag: 'port' },
  GHOST_DATA_DIR: { key: 'dataDir', flag: 'data-dir' },
  GHOST_STORE: { key: 'store', flag: 'store' },
  DATABASE_URL: { key: 'databaseUrl', flag: 'database-url' },
  GHOST_DATABASE_SCHEMA: { key: 'databaseSchema', flag: 'database-schema' },
  GHOST_DATABASE_TIMEOUT_MS: { key: 'databaseTimeoutMs', flag: 'database-timeout-ms' },
  GHOST_WEBHOOK_SECRETS: { key: 'webhookSecrets', flag: 'webhook-secrets' },
  GHOST_API_TOKENS: { key: 'apiTokens', flag: 'api-tokens' },
  GHOST_WORKSPACES: { key: 'workspaces', flag: 'workspaces' },
  GHOST_PUBLIC_URL: { key: 'publicUrl', flag: 'public-url' },
  GHOST_DRAIN_DELAY_MS: { key: 'drainDelayMs', flag: 'drain-delay-ms' },
  LOG_LEVEL: { key: 'logLevel', flag: 'log-level' },
  GHOST_METRICS_PUBLIC: { key: 'metricsPublic', flag: 'metrics-public' },
  GHOST_RETENTION_DAYS: { key: 'retentionDays', flag: 'retention-days' },
  // The secret comes from GHOST_NOTIFY_SECRET (below): one secret signs every URL given here.
  GHOST_NOTIFY_URLS: { key: 'notifications', flag: 'notify-urls' },
} as const satisfies Record<string, { key: keyof Config; flag: string }>
export type Variable = keyof typeof VARIABLES

export const CONFIG_FLAGS = Object.fromEntries(
  [...Object.values(VARIABLES).map((v) => v.flag), 'config', 'notify-secret'].map((f) => [f, { type: 'string' as const }]),
)

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean)

export function fromText(variable: Variable, text: string): unknown {
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

export function readConfigFile(file: string): Record<string, unknown> {
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

export function nameFor(path: string, fromFile: Set<string>): string {
  const top = path.split('/')[1] ?? ''
  const variable = (Object.keys(VARIABLES) as Variable[]).find((v) => VARIABLES[v].key === top)
  if (variable && !fromFile.has(top)) return variable
  return `GHOST_CONFIG${path.replace(/\//g, '.')}`
}
