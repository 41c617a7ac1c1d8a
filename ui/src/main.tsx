import { render } from 'preact'
import { useEffect, useLayoutEffect, useState } from 'preact/hooks'
import { session } from './session.js'
import { startChanges, stopChanges } from './changes.js'
import { useRoute, type Route } from './router.js'
import { StreamBanner } from './components/stream-banner.js'
import { SignIn } from './views/sign-in.js'
import { Overview } from './views/overview.js'
import { PatchListView } from './views/patch-list.js'
import { PatchDetailView } from './views/patch-detail.js'
import './styles.css'

function useSignedIn(): boolean {
  const [signedIn, setSignedIn] = useState(() => session.token() !== null)
  useEffect(() => session.subscribe(() => setSignedIn(session.token() !== null)), [])
  return signedIn
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'overview':
      return <Overview />
    case 'list':
      return <PatchListView status={route.status} target={route.target} cursor={route.cursor} />
    case 'detail':
      return <PatchDetailView key={route.id} id={route.id} />
    case 'missing':
      return (
        <>
          <h1 tabIndex={-1}>Not a page</h1>
          <p>
            Nothing is shown at <code>{route.hash}</code>. <a href="#/">Go to the overview</a>.
          </p>
        </>
      )
  }
}

function Shell() {
  const route = useRoute()
  useEffect(() => {
    startChanges()
    return stopChanges
  }, [])
  // A new view takes the focus to its heading, so keyboard and screen-reader users start there.
  const where = route.view === 'detail' ? `detail:${route.id}` : route.view
  useLayoutEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: false })
    document.title = `${route.view === 'overview' ? 'Overview' : route.view === 'list' ? 'Patches' : route.view === 'detail' ? `Patch ${route.id}` : 'Not a page'} · Ghost Runner`
  }, [where])
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault()
        document.querySelector<HTMLElement>('main h1')?.focus()
      }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          Ghost Runner
        </a>
        <nav aria-label="Views">
          <a href="#/" aria-current={route.view === 'overview' ? 'page' : undefined}>
            Overview
          </a>
          <a href="#/patches" aria-current={route.view === 'list' ? 'page' : undefined}>
            Patches
          </a>
        </nav>
        <StreamBanner />
        {session.token() === '' ? (
          <span class="muted">No credentials configured</span>
        ) : (
          <button type="button" class="link" onClick={() => session.signOut()}>
            Sign out
          </button>
        )}
      </header>
      <main id="main">
        <View route={route} />
      </main>
    </>
  )
}

function App() {
  return useSignedIn() ? <Shell /> : <SignIn />
}

const root = document.getElementById('app')!
root.textContent = ''
render(<App />, root)
