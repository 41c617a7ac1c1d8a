import { Value } from '@sinclair/typebox/value'
import { checkCredentials } from '../auth/credentials.js'
import { Config, WorkspaceConfig } from './schema.js'

/** Thrown for any bad configuration value; the message is one line naming the variable. */
export class ConfigError extends Error {}

/** A schema error as a person reads it: for a choice of words, the words. */
export function describe(schema: { anyOf?: { const?: unknown }[] }, message: string): string {
  const options = schema.anyOf?.map((s) => s.const)
  return options?.every((o) => typeof o === 'string') ? `expected one of ${options.join(', ')}` : message
}

// Value.Default does not descend into Record values, so each workspace gets its defaults here.
export function withDefaults(raw: unknown): unknown {
  const value = Value.Default(Config, Value.Convert(Config, raw)) as { workspaces?: Record<string, unknown> }
  if (value.workspaces && typeof value.workspaces === 'object') {
    for (const [name, ws] of Object.entries(value.workspaces)) value.workspaces[name] = Value.Default(WorkspaceConfig, Value.Convert(WorkspaceConfig, ws))
  }
  return value
}

/** What the schema cannot say: each URL parses, and names one destination only once. */
export function checkNotifications(config: Config, name: (path: string) => string): void {
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

export function credentialsOrThrow(config: Config, name: (path: string) => string): void {
  const problem = checkCredentials(config, name)
  if (problem) throw new ConfigError(`${name(problem.path)}: ${problem.message}`)
}
