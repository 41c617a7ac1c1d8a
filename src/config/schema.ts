import { Type, type Static } from '@sinclair/typebox'
import { PatchStatus } from '../schemas/record.js'
import { CredentialConfig, WebhookSecret } from '../schemas/credential.js'

// The configuration's one source of truth: its types, defaults and limits. Loaded from the
// environment, flags and a file by loadConfig, or built in code by defineConfig (../config.ts).

const Argv = Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })

/** What one check may consume inside its sandbox, on top of the wall-clock checkTimeoutMs. */
export const CheckLimits = Type.Object(
  {
    cpuSeconds: Type.Integer({ minimum: 1, default: 600, description: 'CPU time of each process of a check (RLIMIT_CPU)' }),
    memoryMb: Type.Integer({ minimum: 64, default: 2048, description: 'Address space of each process of a check (RLIMIT_AS)' }),
    fileSizeMb: Type.Integer({ minimum: 1, default: 1024, description: 'Largest file a check may write (RLIMIT_FSIZE); also the size of its private /tmp' }),
    processes: Type.Integer({ minimum: 8, default: 256, description: 'Processes and threads a check may run at once' }),
    openFiles: Type.Integer({ minimum: 16, default: 1024, description: 'Open files per process (RLIMIT_NOFILE)' }),
  },
  { default: {}, additionalProperties: false },
)
export type CheckLimits = Static<typeof CheckLimits>

const EnvName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' })

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
    // A check runs code the patch wrote: confined unless the configuration says otherwise in so many words.
    sandbox: Type.Union([Type.Literal('bwrap'), Type.Literal('none')], {
      default: 'bwrap',
      description: 'bwrap: checks run in a bubblewrap sandbox; none: as the service itself, with its privileges',
    }),
    network: Type.Boolean({ default: false, description: "Give sandboxed checks the host's network (for checks that install packages)" }),
    env: Type.Record(EnvName, Type.String(), { default: {}, additionalProperties: false, description: 'Variables set for checks, on top of PATH, HOME, LANG, LC_ALL and TMPDIR' }),
    limits: CheckLimits,
    hide: Type.Array(Type.String({ pattern: '^/' }), { default: [], description: 'More absolute paths checks must not see (files holding secrets the service does not know of)' }),
  },
  { additionalProperties: false },
)
export type WorkspaceConfig = Static<typeof WorkspaceConfig>

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
    configFile: Type.Optional(Type.String({ description: 'The file this configuration was read from (GHOST_CONFIG); set by the loader, hidden from checks' })),
    // A frozen database link must not hold requests past a load balancer's own timeout.
    databaseTimeoutMs: Type.Integer({ minimum: 100, default: 5000, description: 'Deadline of one PostgreSQL store operation; past it the API answers 503 STORE_UNAVAILABLE' }),
    webhookSecrets: Type.Array(WebhookSecret, { default: [] }),
    apiTokens: Type.Array(Type.String({ minLength: 16 }), { default: [] }),
    credentials: Type.Array(CredentialConfig, {
      default: [],
      description: 'Named tokens and secrets, each limited to workspaces and rights (config file only)',
    }),
    workspaces: Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }), WorkspaceConfig, { default: {} }),
    logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
    publicUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    drainDelayMs: Type.Integer({ minimum: 0, default: 5000 }),
    shutdownTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
    // Counts and timings only, but they still describe the deployment (targets, runners, load):
    // behind the API's credentials unless a trusted network makes a scraper token needless.
    metricsPublic: Type.Boolean({ default: false, description: 'Serve GET /metrics without credentials' }),
    // A month of history at 10 patches/s is about 26 million patches: kept forever, the store only grows.
    retentionDays: Type.Number({ minimum: 0, default: 30, description: 'Finished patches older than this many days are deleted with their events and deliveries; 0 keeps everything' }),
    retention: Type.Object(
      {
        batch: Type.Integer({ minimum: 1, maximum: 10_000, default: 200, description: 'Patches deleted per transaction' }),
        pauseMs: Type.Integer({ minimum: 0, default: 50, description: 'Pause between two batches' }),
        intervalMs: Type.Integer({ minimum: 1000, default: 60_000, description: 'How often a pruning round starts' }),
        reclaimPages: Type.Integer({ minimum: 0, default: 1000, description: 'SQLite pages given back to the filesystem after each batch' }),
      },
      { default: {}, additionalProperties: false },
    ),
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
        ratePerMinute: Type.Integer({ minimum: 1, default: 600, description: 'POST /webhook requests per minute per credential' }),
        // Counted per address, and only requests that fail authentication: a valid credential is
        // never held back by its neighbours behind the same proxy.
        unauthenticatedPerMinute: Type.Integer({ minimum: 1, default: 120, description: 'Requests per minute per address that fail authentication before 429' }),
        streamsPerPrincipal: Type.Integer({ minimum: 1, default: 100, description: 'Open event streams per credential' }),
        streamsTotal: Type.Integer({ minimum: 1, default: 1000, description: 'Open event streams per server process' }),
        // A patch is planned in a worker thread; past this it is stopped and rejected PLAN_TIMEOUT.
        planBudgetMs: Type.Integer({ minimum: 100, default: 10_000, description: 'Wall-clock time one patch may spend being planned before it is rejected PLAN_TIMEOUT' }),
        patchWriteMb: Type.Integer({ minimum: 1, default: 64, description: 'Bytes of file contents one patch may write, in MiB, before it is rejected PATCH_TOO_LARGE' }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)
export type Config = Static<typeof Config>
