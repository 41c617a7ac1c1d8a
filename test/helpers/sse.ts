export interface SseMessage {
  event?: string
  id?: string
  data: string
}

/** The messages and comment lines of a Server-Sent Events text (whole blocks only). */
export function parseSse(text: string): { messages: SseMessage[]; comments: string[] } {
  const messages: SseMessage[] = []
  const comments: string[] = []
  const whole = text.slice(0, text.lastIndexOf('\n\n') + 2)
  for (const block of whole.split('\n\n')) {
    if (block.trim() === '') continue
    const msg: SseMessage = { data: '' }
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim())
      else if (line.startsWith('event: ')) msg.event = line.slice(7)
      else if (line.startsWith('id: ')) msg.id = line.slice(4)
      else if (line.startsWith('data: ')) msg.data += line.slice(6)
    }
    if (msg.event || msg.data) messages.push(msg)
  }
  return { messages, comments }
}

/** Reads a live stream chunk by chunk until `done` says enough, the stream ends, or `timeoutMs` passes (then it throws with what came). */
export async function readUntil(res: Response, done: (text: string) => boolean, timeoutMs = 5000): Promise<{ text: string; ended: boolean }> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  const deadline = AbortSignal.timeout(timeoutMs)
  try {
    while (!done(text)) {
      const next = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => deadline.addEventListener('abort', () => reject(new Error(`stream stalled; got: ${text}`)), { once: true })),
      ])
      if (next.done) return { text, ended: true }
      text += next.value
    }
    return { text, ended: false }
  } finally {
    reader.releaseLock()
  }
}

/** A stream read as it comes, for tests that act between what they wait for. */
export class SseReader {
  text = ''
  ended = false
  readonly #reader: ReadableStreamDefaultReader<string>

  constructor(res: Response) {
    this.#reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  }

  get messages(): SseMessage[] {
    return parseSse(this.text).messages
  }

  /** Reads until `done` holds for what came so far; fails naming `what` after `timeoutMs`. */
  async until(what: string, done: (messages: SseMessage[]) => boolean, timeoutMs = 5000): Promise<SseMessage[]> {
    const deadline = AbortSignal.timeout(timeoutMs)
    const stalled = new Promise<never>((_, reject) =>
      deadline.addEventListener('abort', () => reject(new Error(`timed out waiting for ${what}; got: ${this.text}`)), { once: true }),
    )
    stalled.catch(() => {})
    while (!done(this.messages)) {
      if (this.ended) throw new Error(`stream ended before ${what}; got: ${this.text}`)
      const next = await Promise.race([this.#reader.read(), stalled])
      if (next.done) this.ended = true
      else this.text += next.value
    }
    return this.messages
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {})
  }
}
