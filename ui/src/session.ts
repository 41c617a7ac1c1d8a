// The bearer token lives in sessionStorage: asked for once, kept for this tab's session, gone when
// it closes, and never put in a URL (where logs, history and referrers would keep it).
const KEY = 'ghost-runner.token'

type Listener = () => void
const listeners = new Set<Listener>()
let notice: string | null = null

const emit = () => {
  for (const listener of [...listeners]) listener()
}

export const session = {
  /** The token; '' when the server takes none (no credentials configured, loopback only). */
  token(): string | null {
    return sessionStorage.getItem(KEY)
  },
  signIn(token: string): void {
    sessionStorage.setItem(KEY, token)
    notice = null
    emit()
  },
  /** Forgets the token; `why` is shown on the sign-in form. */
  signOut(why: string | null = null): void {
    sessionStorage.removeItem(KEY)
    notice = why
    emit()
  },
  /** Why the page asks for a token again, if it was not the operator's own choice. */
  notice(): string | null {
    return notice
  },
  subscribe(listener: Listener): () => void {
    listeners.add(listener)
    return () => void listeners.delete(listener)
  },
}
