import type { Config, WorkspaceConfig } from '../../../config.js'
import type { SandboxOptions } from './launch.js'

/**
 * How the checks of one workspace are confined: its sandbox settings, its git dir read-only,
 * and hidden besides what every sandbox hides, the service's own files (the data directory
 * with the database, the configuration file) and every other workspace.
 */
export function workspaceSandbox(config: Config, ws: WorkspaceConfig, gitDir: string): SandboxOptions {
  const others = Object.values(config.workspaces)
    .map((w) => w.path)
    .filter((p) => p !== ws.path)
  return {
    mode: ws.sandbox,
    network: ws.network,
    env: ws.env,
    limits: ws.limits,
    gitDir,
    hide: [config.dataDir, ...(config.configFile !== undefined ? [config.configFile] : []), ...others, ...ws.hide],
  }
}
