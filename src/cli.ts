#!/usr/bin/env node
import { setTimeout as sleep } from 'node:timers/promises'
import { ConfigError, loadConfig, type Config } from './config.js'

const SERVER_FLAGS_HELP = `  --host (GHOST_HOST, 127.0.0.1)         --port (GHOST_PORT, 5555)
  --data-dir (GHOST_DATA_DIR, ./data)    --store (GHOST_STORE, sqlite|postgres)
  --database-url (DATABASE_URL)          --webhook-secrets (GHOST_WEBHOOK_SECRETS)
  --api-tokens (GHOST_API_TOKENS)        --workspaces (GHOST_WORKSPACES, name=path,…)
  --config (GHOST_CONFIG, JSON or YAML)  --log-level (LOG_LEVEL)
  --public-url (GHOST_PUBLIC_URL)        --drain-delay-ms (GHOST_DRAIN_DELAY_MS, 5000)
  --database-schema (GHOST_DATABASE_SCHEMA, ghost_runner)
  --database-timeout-ms (GHOST_DATABASE_TIMEOUT_MS, 5000)
  --metrics-public (GHOST_METRICS_PUBLIC, false)
  --notify-urls (GHOST_NOTIFY_URLS, url,…) --notify-secret (GHOST_NOTIFY_SECRET, whsec_…)
  -h, --help
`

const HELP = `ghost-runner — apply patches from AI agents to git workspaces, safely

Usage: ghost-runner [command] [flags]

Commands:
  start      server and runner in one process (the default; embedded SQLite)
  serve      the HTTP server only
  work       a runner only, against the configured store
  migrate    apply store migrations and exit
  dispatch   send a patch file (JSON, unified diff or V4A) to a server; --wait follows it live
  status     recent patches, or one patch with its events

Run "ghost-runner <command> --help" for the flags of one command.

Server flags (start, serve, work, migrate; each overrides the environment variable of the same name):
${SERVER_FLAGS_HELP}`

const SERVER_HELP = {
  start: `Usage: ghost-runner start [flags]

Runs the HTTP server and a patch runner in one process: the embedded default (SQLite in
GHOST_DATA_DIR). The first SIGINT/SIGTERM drains (readiness turns 503) and then closes; a second
forces the exit (the same signal again within a second counts once: a process group signal and
a parent forwarding it).

Flags (each overrides the environment variable of the same name):
${SERVER_FLAGS_HELP}`,
  serve: `Usage: ghost-runner serve [flags]

Runs the HTTP server only; patches wait in the store for a runner (ghost-runner work) that shares it.

Flags (each overrides the environment variable of the same name):
${SERVER_FLAGS_HELP}`,
  work: `Usage: ghost-runner work [flags]

Runs a patch runner only: claims queued patches from the configured store, applies them to their
workspaces, runs their checks, and commits or restores.

Flags (each overrides the environment variable of the same name):
${SERVER_FLAGS_HELP}`,
  migrate: `Usage: ghost-runner migrate [flags]

Applies pending store migrations and exits; safe to run while other processes start.

Flags (each overrides the environment variable of the same name):
${SERVER_FLAGS_HELP}`,
}

const COMMANDS = ['start', 'serve', 'work', 'migrate', 'dispatch', 'status'] as const
type Command = (typeof COMMANDS)[number]

function loggerOptions(config: Config) {
  // Pretty output only for a person at a terminal; JSON lines everywhere else.
  return process.stdout.isTTY
    ? { level: config.logLevel, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
    : { level: config.logLevel }
}

async function serve(config: Config, withRunner: boolean) {
  // Loaded on demand so the client commands and --help start without the server's modules.
  const [{ buildApp }, { onShutdown }] = await Promise.all([import('./app.js'), import('./graceful-shutdown.js')])
  const app = await buildApp(config, { logger: loggerOptions(config), runner: withRunner })
  await app.listen({ host: config.host, port: config.port })
  // First signal: readiness turns 503 at once, the listener stays open for the drain delay so load
  // balancers see it, then in-flight work finishes and everything closes. A second signal (not
  // the same one delivered twice), or the deadline, forces the exit.
  onShutdown({ deadlineMs: config.shutdownTimeoutMs + config.drainDelayMs, log: app.log }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'fatal error, shutting down')
    else app.log.info({ signal, drainDelayMs: config.drainDelayMs }, 'shutting down: draining')
    app.lifecycle.beginDrain()
    if (!err) await sleep(config.drainDelayMs)
    await app.close()
    app.log.info('closed')
  })
}

async function clientCommand(command: 'dispatch' | 'status') {
  return command === 'dispatch' ? (await import('./commands/dispatch.js')).dispatch : (await import('./commands/status.js')).status
}

async function main(argv: string[]) {
  const first = argv[0]
  const command: Command = first && !first.startsWith('-') ? (first as Command) : 'start'
  const args = first && !first.startsWith('-') ? argv.slice(1) : argv
  if (first === 'help') {
    const topic = argv[1]
    if (topic === 'dispatch' || topic === 'status') await (await clientCommand(topic))(['--help'], process)
    else process.stdout.write(topic !== undefined && topic in SERVER_HELP ? SERVER_HELP[topic as keyof typeof SERVER_HELP] : HELP)
    return
  }
  if (!COMMANDS.includes(command)) throw new ConfigError(`unknown command "${command}"; run ghost-runner --help`)
  // Client commands talk to a server over HTTP: their own flags, no server configuration.
  if (command === 'dispatch' || command === 'status') {
    process.exitCode = await (await clientCommand(command))(args, process)
    return
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(first && !first.startsWith('-') ? SERVER_HELP[command] : HELP)
    return
  }
  const config = loadConfig(process.env, args)
  switch (command) {
    case 'start':
      return serve(config, true)
    case 'serve':
      return serve(config, false)
    case 'work': {
      const { runWorker } = await import('./commands/work.js')
      return runWorker(config, loggerOptions(config))
    }
    case 'migrate': {
      const { openStore } = await import('./store/open.js')
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
