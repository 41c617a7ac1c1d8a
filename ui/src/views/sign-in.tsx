import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, REJECTED_TOKEN, request } from '../api.js'
import { session } from '../session.js'

/**
 * Asks for an API token once per browser session. The token is tried on GET /queues before it is
 * kept: 401 means it is wrong; any other answer (403 included: a token limited to some rights)
 * means the server knows it.
 */
export function SignIn() {
  const [error, setError] = useState<string | null>(session.notice())
  const [busy, setBusy] = useState(false)
  const input = useRef<HTMLInputElement>(null)
  useEffect(() => {
    input.current?.focus()
    // A server without any credential configured (loopback only) needs no token.
    if (session.notice() === null) {
      request('queues', { token: '' }).then(
        () => session.signIn(''),
        () => {},
      )
    }
  }, [])

  const submit = async (e: Event) => {
    e.preventDefault()
    const token = input.current?.value.trim() ?? ''
    if (token === '') {
      setError('Enter an API token.')
      return
    }
    setBusy(true)
    setError(null)
    try {
      await request('queues', { token })
      session.signIn(token)
    } catch (err) {
      if (err instanceof ApiError && err.status !== 401 && err.status !== 0) session.signIn(token)
      else setError(err instanceof ApiError && err.status === 401 ? REJECTED_TOKEN : `The server cannot be reached: ${(err as Error).message}`)
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="sign-in" id="main">
      <h1>Ghost Runner</h1>
      <p>Sign in with an API token (one of <code>GHOST_API_TOKENS</code>). It is kept in this tab only, until you close it or sign out.</p>
      <form onSubmit={submit} noValidate>
        <label for="token">API token</label>
        <input id="token" ref={input} type="password" autocomplete="off" spellcheck={false} aria-invalid={error !== null} aria-describedby={error ? 'sign-in-error' : undefined} />
        {error && (
          <p id="sign-in-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
