// Load generation shared by the bench's scenarios: signed realistic patches and autocannon runs.
import autocannon from 'autocannon'
import { sign } from '../src/auth/webhook-signature.js'

export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
export const SECONDS = process.argv.includes('--quick') ? 1.5 : 8

/** A realistic patch of a few KB with several operations, unique per call. */
export function patchBody(n: number) {
  const filler = Array.from({ length: 40 }, (_, i) => `export const value${i} = ${i * n} // generated line ${i}`).join('\n')
  return JSON.stringify({
    target: 'default',
    description: `bench patch ${n}`,
    operations: [
      { op: 'write', path: `src/gen/file-${n % 50}.ts`, contents: `${filler}\n` },
      { op: 'replace', path: 'README.md', find: 'bench', replace: 'Bench', count: 1 },
      { op: 'insert', path: 'README.md', contents: `\n- entry ${n}\n`, after: '# Bench' },
      { op: 'diff', diff: `diff --git a/notes-${n}.txt b/notes-${n}.txt\nnew file mode 100644\n--- /dev/null\n+++ b/notes-${n}.txt\n@@ -0,0 +1,2 @@\n+note ${n}\n+done\n` },
    ],
    metadata: { agent: 'bench', run: n },
  })
}

/** Ids the service acknowledged with 202, collected from the response bodies. */
export const acknowledgedIds = new Set<string>()
export const webhookRequest = {
  setupRequest: (r: autocannon.Request) => ({ ...r, ...signedRequest(), method: 'POST' as const }),
  onResponse: (status: number, body: string) => {
    if (status === 202) acknowledgedIds.add((JSON.parse(body) as { id: string }).id)
  },
}

/** The same requests for the PostgreSQL service, whose ids the SQLite durability check must not expect. */
export const postgresWebhookRequest = { setupRequest: webhookRequest.setupRequest }

let seq = 0
export function signedRequest(): { body: string; headers: Record<string, string> } {
  const body = patchBody(seq++)
  const id = `msg_bench_${process.pid}_${seq}`
  const ts = Math.floor(Date.now() / 1000)
  return { body, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(SECRET, id, ts, body) } }
}

export async function load(opts: autocannon.Options) {
  return autocannon({ connections: 50, duration: SECONDS, ...opts })
}

/** The middle value (the upper one of an even count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export const codeCount = (r: autocannon.Result, code: number) => (r.statusCodeStats as Record<string, { count: number }> | undefined)?.[code]?.count ?? 0

