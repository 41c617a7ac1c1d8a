import { useMemo, useState } from 'preact/hooks'
import { html as renderDiff } from 'diff2html'

export type DiffLayout = 'line-by-line' | 'side-by-side'

const narrow = () => matchMedia('(max-width: 52rem)').matches
let chosen: DiffLayout | null = null

/** The operator's choice holds for every diff of the session; by default side by side on wide screens. */
export function useDiffLayout(): [DiffLayout, (l: DiffLayout) => void] {
  const [layout, setLayout] = useState<DiffLayout>(() => chosen ?? (narrow() ? 'line-by-line' : 'side-by-side'))
  return [layout, (l) => setLayout((chosen = l))]
}

export function LayoutToggle({ layout, onChange }: { layout: DiffLayout; onChange: (l: DiffLayout) => void }) {
  return (
    <div class="toggle" role="group" aria-label="Diff layout">
      <button type="button" aria-pressed={layout === 'line-by-line'} onClick={() => onChange('line-by-line')}>
        Unified
      </button>
      <button type="button" aria-pressed={layout === 'side-by-side'} onClick={() => onChange('side-by-side')}>
        Side by side
      </button>
    </div>
  )
}

/**
 * A unified diff rendered by diff2html, without syntax highlighting: the colours say added and
 * removed, nothing about the language. diff2html escapes every line of the text; the page's CSP
 * would keep anything that slipped through from running.
 */
export function DiffView({ text, layout }: { text: string; layout: DiffLayout }) {
  const markup = useMemo(
    () => renderDiff(text, { outputFormat: layout, drawFileList: false, matching: 'lines', diffStyle: 'word' }),
    [text, layout],
  )
  if (text.trim() === '') return <p class="muted">The diff is empty (nothing but a commit).</p>
  return <div class="diff" dangerouslySetInnerHTML={{ __html: markup }} />
}
