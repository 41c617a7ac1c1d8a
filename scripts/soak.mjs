// `npm run soak [-- <factor>]`: the randomised and load tests of `npm test`, each doing <factor>
// (default 10) times the work: more random kills, more fuzzed payloads and operation sequences,
// more patches through the scale-out cluster (which needs DATABASE_URL). Minutes, not seconds.
import process from 'node:process'
import { spawnSync } from 'node:child_process'

const factor = process.argv[2] ?? '10'
const files = [
  'test/reliability/sigkill-at-random-moments-loses-and-doubles-nothing.test.ts',
  'test/reliability/fuzzed-webhook-payloads-never-5xx-never-store-invalid.test.ts',
  'test/reliability/random-operations-apply-exactly-or-leave-the-tree-unchanged.test.ts',
  'test/scale/postgres-multiprocess.test.ts',
]
const res = spawnSync(process.execPath, ['scripts/test.mjs', ...files], { stdio: 'inherit', env: { ...process.env, GHOST_SOAK_FACTOR: factor } })
process.exit(res.status ?? 1)
