#!/usr/bin/env node
import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config } from './config.js'
import { buildApp } from './app.js'
import { openStore } from './store/open.js'

const HELP = `ghost-runner — apply patches from AI agents to git workspaces, safely

Usage: ghost-runner [command] [flags]

Commands:
  start      server and runner in one process (the default; embedded SQLite)
  serve      the HTTP server only
  work       a runner only, against the configured store
  migrate    apply store migrations and exit

Flags (each overrides the environment variable of the same name):
  --host (GHOST_HOST, 127.0.0.1)         --port (GHOST_PORT, 5555)
  --data-dir (GHOST_DATA_DIR, ./data)    --store (GHOST_STORE, sqlite|postgres)
  --database-url (DATABASE_URL)          --webhook-secrets (GHOST_WEBHOOK_SECRETS)
  --api-tokens (GHOST_API_TOKENS)        --workspaces (GHOST_WORKSPACES, name=path,…)
  --config (GHOST_CONFIG, JSON or YAML)  --log-level (LOG_LEVEL)
  --public-url (GHOST_PUBLIC_URL)        --drain-delay-ms (GHOST_DRAIN_DELAY_MS, 5000)
  -h, --help
`

const COMMANDS = ['start', 'serve', 'work', 'migrate'] as const
type Command = (typeof COMMANDS)[number]

function loggerOptions(config: Config) {
  // Pretty output only for a person at a terminal; JSON lines everywhere else.
  return process.stdout.isTTY
    ? { level: config.logLevel, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
    : { level: config.logLevel }
}

async function serve(config: Config, withRunner: boolean) {
  const app = await buildApp(config, { logger: loggerOptions(config), runner: withRunner })
  await app.listen({ host: config.host, port: config.port })
  // First signal: readiness turns 503 at once, the listener stays open for the drain delay so load
  // balancers see it, then in-flight work finishes and everything closes. A second signal, or
  // the deadline, forces the exit.
  closeWithGrace({ delay: config.shutdownTimeoutMs + config.drainDelayMs, logger: app.log }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'fatal error, shutting down')
    else app.log.info({ signal, drainDelayMs: config.drainDelayMs }, 'shutting down: draining')
    app.lifecycle.beginDrain()
    if (!err) await sleep(config.drainDelayMs)
    await app.close()
    app.log.info('closed')
  })
}

async function main(argv: string[]) {
  const first = argv[0]
  const command: Command = first && !first.startsWith('-') ? (first as Command) : 'start'
  const args = first && !first.startsWith('-') ? argv.slice(1) : argv
  if (args.includes('--help') || args.includes('-h') || first === 'help') {
    process.stdout.write(HELP)
    return
  }
  if (!COMMANDS.includes(command)) throw new ConfigError(`unknown command "${command}"; run ghost-runner --help`)
  const config = loadConfig(process.env, args)
  switch (command) {
    case 'start':
      return serve(config, true)
    case 'serve':
      return serve(config, false)
    case 'work': {
      const { runWorker } = await import('./runner/worker.js')
      return runWorker(config, loggerOptions(config))
    }
    case 'migrate': {
      const store = await openStore(config)
      await store.close()
      process.stdout.write(`migrated ${config.store} store\n`)
      return
    }
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // Configuration and start-up errors: one clear line, no stack.
  const message = err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)
  process.stderr.write(`ghost-runner: ${message}\n`)
  process.exit(1)
})
