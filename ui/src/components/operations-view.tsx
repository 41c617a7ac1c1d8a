import type { Operation } from '../../../src/schemas/patch.js'
import { DiffView, type DiffLayout } from './diff-view.js'

/** Long file contents are cut on screen; the record holds them whole. */
const SHOWN_CHARS = 20_000

const cut = (text: string) => (text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}\n… (${text.length - SHOWN_CHARS} more characters)` : text)

/** Text shown as whole lines taken away or added, coloured like a diff. */
function Lines({ text, sign }: { text: string; sign: '+' | '-' }) {
  return (
    <pre class={`lines ${sign === '+' ? 'added' : 'removed'}`}>
      {cut(text)
        .split('\n')
        .map((line) => `${sign} ${line}`)
        .join('\n')}
    </pre>
  )
}

function OperationView({ op, index, layout }: { op: Operation; index: number; layout: DiffLayout }) {
  const head = (what: string, path?: string) => (
    <h4>
      <span class="op-index">#{index}</span> {what} {path && <code>{path}</code>}
    </h4>
  )
  switch (op.op) {
    case 'write':
      return (
        <div class="op">
          {head('write', op.path)}
          <Lines text={op.contents} sign="+" />
        </div>
      )
    case 'replace':
      return (
        <div class="op">
          {head(`replace${op.regex ? ' (regular expression)' : ''}${op.count ? `, expecting ${op.count} match${op.count === 1 ? '' : 'es'}` : ''}`, op.path)}
          <Lines text={op.find} sign="-" />
          <Lines text={op.replace} sign="+" />
        </div>
      )
    case 'insert':
      return (
        <div class="op">
          {head(`insert ${op.before !== undefined ? 'before' : 'after'}`, op.path)}
          <pre class="lines anchor">{cut(op.before ?? op.after ?? '')}</pre>
          <Lines text={op.contents} sign="+" />
        </div>
      )
    case 'delete':
      return <div class="op">{head('delete', op.path)}</div>
    case 'rename':
      return (
        <div class="op">
          {head('rename', op.from)} <p>to <code>{op.to}</code></p>
        </div>
      )
    case 'diff':
      return (
        <div class="op">
          {head('diff')}
          <DiffView text={op.diff} layout={layout} />
        </div>
      )
    case 'apply_patch':
      return (
        <div class="op">
          {head('apply_patch (V4A)')}
          <pre class="lines v4a">{cut(op.patch)}</pre>
        </div>
      )
  }
}

/** What a patch asked for, operation by operation: shown when there is no commit to diff. */
export function OperationsView({ operations, layout }: { operations: readonly Operation[]; layout: DiffLayout }) {
  return (
    <div class="operations">
      {operations.map((op, i) => (
        <OperationView key={i} op={op} index={i} layout={layout} />
      ))}
    </div>
  )
}
