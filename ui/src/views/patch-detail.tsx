import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import type { PatchDetail } from '../../../src/schemas/notification.js'
import type { PatchRecord } from '../../../src/schemas/record.js'
import { MAY_HAVE_LANDED_REASONS } from '../../../src/store/port.js'
import { ApiError, explain, postJson, request } from '../api.js'
import { LiveStream } from '../live.js'
import { dateTime, duration } from '../format.js'
import { throttle, useLoad } from '../load.js'
import { listHref } from '../router.js'
import { StatusBadge } from '../components/status-badge.js'
import { DiffView, LayoutToggle, useDiffLayout, type DiffLayout } from '../components/diff-view.js'
import { OperationsView } from '../components/operations-view.js'

/** The server refuses to cancel a queued patch a runner lost: it may already have landed. */
const cancellable = (p: PatchRecord) => p.status === 'queued' && !p.events.some((e) => (MAY_HAVE_LANDED_REASONS as readonly string[]).includes(e.reason))

interface Diff {
  text: string
  truncated: boolean
}

async function loadDiff(id: string, signal: AbortSignal): Promise<Diff> {
  const res = await request(`patches/${encodeURIComponent(id)}/diff`, { accept: 'text/x-diff', signal })
  return { text: await res.text(), truncated: res.headers.get('diff-truncated') === 'true' }
}

function Facts({ patch }: { patch: PatchDetail }) {
  const rows: [string, ComponentChildren][] = [
    ['Workspace', <a href={listHref({ target: patch.target })}>{patch.target}</a>],
    ['Format', patch.format],
    ['Client id', patch.client_id ?? '—'],
    ['Attempts', String(patch.attempts)],
    ['Accepted', dateTime(patch.created_at)],
    ['Started', patch.started_at ? dateTime(patch.started_at) : '—'],
    ['Finished', patch.finished_at ? dateTime(patch.finished_at) : '—'],
    ['Checks asked for', patch.patch.checks.length ? patch.patch.checks.join(', ') : 'none'],
  ]
  if (patch.result?.commit) rows.push(['Commit', <code class="commit">{patch.result.commit}</code>])
  if (patch.result?.tag) rows.push(['Tag', <code>{patch.result.tag}</code>])
  return (
    <dl class="facts">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  )
}

function ErrorSection({ error, status }: { error: NonNullable<PatchRecord['error']>; status: string }) {
  return (
    <section aria-labelledby="error-title" class="card problem">
      <h2 id="error-title">{status === 'rejected' ? 'Why it was rejected' : status === 'failed' ? 'Why it failed' : 'Error'}</h2>
      <p>
        <code class="code">{error.code}</code> {error.message}
      </p>
      {(error.operation !== undefined || error.path !== undefined) && (
        <p class="muted">
          {error.operation !== undefined && <>Operation #{error.operation}. </>}
          {error.path !== undefined && (
            <>
              Path <code>{error.path}</code>.
            </>
          )}
        </p>
      )}
      {error.detail && (
        <>
          <h3>Hints</h3>
          <pre class="output">{error.detail}</pre>
        </>
      )}
    </section>
  )
}

function ChecksSection({ checks }: { checks: NonNullable<PatchRecord['result']>['checks'] }) {
  return (
    <section aria-labelledby="checks-title" class="card">
      <h2 id="checks-title">Checks</h2>
      {checks.length === 0 && <p class="muted">No check ran.</p>}
      {checks.map((c, i) => {
        const passed = c.exit_code === 0 && !c.timed_out
        const how = c.timed_out ? 'timed out' : c.signal ? `killed by ${c.signal}` : `exit ${c.exit_code ?? '—'}`
        return (
          <details key={i} class={`check ${passed ? 'passed' : 'failed'}`} open={!passed} data-check={c.name}>
            <summary>
              <strong>{c.name}</strong> <span class={`badge ${passed ? 'status-applied' : 'status-failed'}`}>{passed ? 'passed' : 'failed'}</span> {how}, {duration(c.duration_ms)}{' '}
              <code class="muted">{c.argv.join(' ')}</code>
            </summary>
            <pre class="output" aria-label={`Output of ${c.name}`} tabIndex={0}>
              {c.output_tail || '(no output)'}
            </pre>
          </details>
        )
      })}
    </section>
  )
}

function ChangeSection({ patch, layout, setLayout }: { patch: PatchDetail; layout: DiffLayout; setLayout: (l: DiffLayout) => void }) {
  const commit = patch.status === 'applied' ? (patch.result?.commit ?? null) : null
  const diff = useLoad(commit ? `diff:${patch.id}:${commit}` : 'no-diff', (signal) => (commit ? loadDiff(patch.id, signal) : Promise.resolve(null)))
  const files = patch.result?.files ?? []
  const showOperations = commit === null || (diff.error !== null && !(diff.error instanceof ApiError && diff.error.status === 401))
  return (
    <section aria-labelledby="change-title" class="card">
      <div class="section-head">
        <h2 id="change-title">{commit ? 'Diff' : 'What it asked for'}</h2>
        <LayoutToggle layout={layout} onChange={setLayout} />
      </div>
      {files.length > 0 && (
        <ul class="files" aria-label="Files changed">
          {files.map((f) => (
            <li key={f.path}>
              <code>{f.from ? `${f.from} → ${f.path}` : f.path}</code> <span class="muted">{f.change}</span> <span class="added">+{f.added}</span>{' '}
              <span class="removed">−{f.removed}</span>
            </li>
          ))}
        </ul>
      )}
      {commit && diff.loading && !diff.data && <p class="muted">Loading the diff…</p>}
      {commit && diff.error !== null && <p class="error">{explain(diff.error, 'the diff')} What the patch asked for is shown instead.</p>}
      {diff.data && (
        <>
          {diff.data.truncated && <p class="notice">The diff is too large to show whole: the last files are left out. git shows the rest: <code>git show {commit}</code></p>}
          <DiffView text={diff.data.text} layout={layout} />
        </>
      )}
      {showOperations && <OperationsView operations={patch.patch.operations} layout={layout} />}
    </section>
  )
}

function Timeline({ events }: { events: PatchRecord['events'] }) {
  return (
    <section aria-labelledby="events-title" class="card">
      <h2 id="events-title">Events</h2>
      <ol class="timeline">
        {events.map((e, i) => (
          <li key={i}>
            <time dateTime={e.at}>{dateTime(e.at)}</time> <StatusBadge status={e.status} /> <code>{e.reason}</code>
            {e.detail && <span class="muted"> {e.detail}</span>}
          </li>
        ))}
      </ol>
    </section>
  )
}

export function PatchDetailView({ id }: { id: string }) {
  const detail = useLoad(`patch:${id}`, (signal) => request(`patches/${encodeURIComponent(id)}`, { signal }).then((r) => r.json() as Promise<PatchDetail>))
  const [layout, setLayout] = useDiffLayout()
  const [cancel, setCancel] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null })
  const [streamError, setStreamError] = useState<string | null>(null)
  const patch = detail.data

  // Follows the patch on its own stream, which the server ends after a final status: each event
  // says it changed, the record says how (checks, commit, error).
  useEffect(() => {
    const reload = throttle(detail.reload, 200)
    const stream = new LiveStream(`patches/${encodeURIComponent(id)}/events`, {
      onEvent: (type) => type === 'status' && reload(),
      onOpen: reload,
      onEnd: reload,
      onRefused: (err) => setStreamError(explain(err, 'this patch')),
    })
    return () => {
      reload.cancel()
      stream.stop()
    }
  }, [id, detail.reload])

  const doCancel = async () => {
    setCancel({ busy: true, error: null })
    try {
      await postJson(`patches/${encodeURIComponent(id)}/cancel`)
      setCancel({ busy: false, error: null })
    } catch (err) {
      setCancel({ busy: false, error: explain(err, 'cancelling this patch') })
    }
    detail.reload()
  }

  if (!patch) {
    return (
      <>
        <h1 tabIndex={-1}>
          Patch <code>{id}</code>
        </h1>
        {detail.error !== null ? <p class="error">{explain(detail.error, `patch ${id}`)}</p> : <p class="muted">Loading…</p>}
      </>
    )
  }
  return (
    <>
      <div class="title-row">
        <h1 tabIndex={-1}>
          Patch <code>{patch.id}</code>
        </h1>
        <StatusBadge status={patch.status} />
        {cancellable(patch) && (
          <button type="button" class="danger" onClick={doCancel} disabled={cancel.busy}>
            {cancel.busy ? 'Cancelling…' : 'Cancel this patch'}
          </button>
        )}
      </div>
      {cancel.error && (
        <p class="error" role="alert">
          {cancel.error}
        </p>
      )}
      {detail.error !== null && <p class="error">{explain(detail.error, `patch ${id}`)}</p>}
      {streamError && <p class="error">{streamError}</p>}
      <p class="description">{patch.description || <span class="muted">(no description)</span>}</p>
      <Facts patch={patch} />
      {Object.keys(patch.patch.metadata).length > 0 && (
        <details class="metadata">
          <summary>Metadata</summary>
          <pre>{JSON.stringify(patch.patch.metadata, null, 2)}</pre>
        </details>
      )}
      {patch.error && <ErrorSection error={patch.error} status={patch.status} />}
      {patch.result && patch.result.checks.length > 0 && <ChecksSection checks={patch.result.checks} />}
      <ChangeSection patch={patch} layout={layout} setLayout={setLayout} />
      <Timeline events={patch.events} />
      {patch.notifications.length > 0 && (
        <section aria-labelledby="notify-title" class="card">
          <h2 id="notify-title">Notifications</h2>
          <ul>
            {patch.notifications.map((n) => (
              <li key={n.id}>
                <code>{n.url}</code> {n.event}: {n.state} after {n.attempts} attempt{n.attempts === 1 ? '' : 's'}
                {n.last_error && <span class="muted"> ({n.last_error})</span>}
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  )
}
