import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { PatchRecord } from '../../src/schemas/record.js'
import { gitRepo, until } from '../helpers/app.js'
import { kill, serviceToken, spawnService, type ServiceProcess } from '../helpers/process.js'
import { buildUi } from '../helpers/ui-build.js'

// Debian's chromium (`.ci/run` installs it). Without it the page cannot be tested: CI fails,
// elsewhere the test is skipped and says why.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const missing = !existsSync(CHROMIUM)
if (missing && process.env.CI) throw new Error(`${CHROMIUM} is missing: the operator page's browser tests need Debian's chromium`)
const SHOTS = new URL('../../.tmp/ui-screenshots/', import.meta.url).pathname

/** A check that fails when the patch wrote BROKEN, and one that takes its time. */
const CHECKS = {
  test: ['node', '-e', "if (require('fs').existsSync('BROKEN')) { console.log('test: BROKEN is present, failing on purpose'); process.exit(3) } console.log('test: ok')"],
  pause: ['node', '-e', "setTimeout(() => console.log('paused'), 2500)"],
}
const HOLD = { hold: ['node', '-e', 'setTimeout(() => {}, 120000)'] }

describe('the operator page in a real browser', { skip: missing && `${CHROMIUM} is not installed (apt-get install chromium)` }, () => {
  const token = serviceToken()
  let env: Record<string, string>
  let service!: ServiceProcess
  let browser!: Browser
  let page: Page
  /** Anything the page logged as an error, and every URL it asked for. */
  const pageErrors: string[] = []
  const requested: string[] = []

  let dataDir: string | undefined
  // Cleanup lives here: `after` called inside `before` would run as soon as `before` ends.
  after(async () => {
    // Unset when `before` failed early.
    if (browser as Browser | undefined) await browser.close()
    if (service as ServiceProcess | undefined) await kill(service.child)
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  before(async () => {
    buildUi()
    dataDir = mkdtempSync(join(tmpdir(), 'gr-ui-'))
    const repo = (name: string, files?: Record<string, string>) => gitRepo(files, mkdirSync(join(dataDir!, name), { recursive: true })!)
    const config = join(dataDir, 'config.json')
    writeFileSync(
      config,
      JSON.stringify({
        workspaces: {
          default: { path: repo('default', { 'greeting.txt': 'hello\n' }), checks: CHECKS, checkTimeoutMs: 60_000 },
          busy: { path: repo('busy'), checks: HOLD, checkTimeoutMs: 180_000 },
        },
      }),
    )
    env = { GHOST_DATA_DIR: join(dataDir, 'data'), GHOST_API_TOKENS: token, GHOST_CONFIG: config, GHOST_DRAIN_DELAY_MS: '0' }
    service = await spawnService('start', env, { timeoutMs: 60_000 })
    mkdirSync(SHOTS, { recursive: true })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Root in a container: no setuid sandbox. Nothing reaches out on its own.
      chromiumSandbox: false,
      args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage()
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`))
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource|net::ERR_/.test(msg.text())) pageErrors.push(`console: ${msg.text()}`)
    })
    page.on('request', (req) => requested.push(req.url()))
  })

  const output = () => service.output().slice(-4000)

  async function submit(body: object): Promise<string> {
    const res = await fetch(`${service.url}/webhook`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    assert.equal(res.status, 202, await res.clone().text())
    return ((await res.json()) as { id: string }).id
  }

  async function record(id: string): Promise<PatchRecord> {
    const res = await fetch(`${service.url}/patches/${id}`, { headers: { authorization: `Bearer ${token}` } })
    return (await res.json()) as PatchRecord
  }

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
  }

  /** axe-core over the whole page: nothing serious or critical. */
  async function accessible(what: string): Promise<void> {
    const { violations } = await new AxeBuilder({ page }).analyze()
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    assert.deepEqual(
      bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`),
      [],
      `accessibility of ${what}`,
    )
  }

  const statusBadge = () => page.locator('.title-row .badge')
  const heading = () => page.locator('main h1')

  it('refuses a wrong token with a clear message, and keeps nothing', async () => {
    await page.goto(`${service.url}/ui`)
    assert.equal(new URL(page.url()).pathname, '/ui/')
    await page.locator('#token').waitFor()
    await accessible('the sign-in page')
    await shot('sign-in')
    await page.locator('#token').fill('not-the-token-0123456789')
    await page.keyboard.press('Enter')
    const alert = page.getByRole('alert')
    await alert.waitFor()
    assert.match(await alert.innerText(), /did not accept this token/)
    assert.equal(await page.evaluate('sessionStorage.length'), 0)
    await shot('sign-in-refused')
  })

  it('signs in by keyboard and shows health, queues and the last hour', async () => {
    await page.locator('#token').fill('')
    await page.keyboard.type(token)
    await page.keyboard.press('Enter')
    await heading().filter({ hasText: 'Overview' }).waitFor()
    assert.equal(await page.evaluate('document.activeElement?.tagName'), 'H1', 'the view takes the focus to its heading')
    await page.locator('tr', { hasText: 'ghost_runner' }).waitFor()
    await page.locator('tr[data-target="default"]').waitFor()
    await page.locator('tr[data-target="busy"]').waitFor()
    await page.locator('.chart svg').waitFor()
    await page.locator('[data-stream="live"]').waitFor()
    await accessible('the overview')
    await shot('overview')
  })

  it('watches a patch go queued → running → applied in the list without reloading, then shows its diff', async () => {
    await page.locator('nav a', { hasText: 'Patches' }).click()
    await heading().filter({ hasText: 'Patches' }).waitFor()
    await page.locator('[data-stream="live"]').waitFor()
    // Every status each row shows, as the DOM changes; and a mark a reload would wipe out.
    // (In-page code is given as text: this program is typed for Node, not the DOM.)
    await page.evaluate(`{
      window.seen = []
      window.notReloaded = true
      const look = () =>
        document.querySelectorAll('tr[data-patch]').forEach((tr) => {
          const seen = tr.dataset.patch + ':' + tr.dataset.status
          if (!window.seen.includes(seen)) window.seen.push(seen)
        })
      new MutationObserver(look).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] })
    }`)
    // The first patch holds the lane while the second waits behind it; both take a while to check.
    const first = await submit({ target: 'default', description: 'hold the lane a moment', operations: [{ op: 'write', path: 'note.txt', contents: 'first\n' }], checks: ['pause'] })
    const second = await submit({
      target: 'default',
      description: 'Shout the greeting',
      operations: [
        { op: 'replace', path: 'greeting.txt', find: 'hello', replace: 'HELLO', count: 1 },
        { op: 'write', path: 'docs/new.md', contents: '# Added by a patch\n\nA line.\n' },
      ],
      checks: ['test', 'pause'],
    })
    const seen = () => page.evaluate('window.seen') as Promise<string[]>
    await until('the second patch applied in the list', async () => (await seen()).includes(`${second}:applied`), 90_000, output)
    const order = (await seen()).filter((s) => s.startsWith(`${second}:`))
    assert.deepEqual(order, [`${second}:queued`, `${second}:running`, `${second}:applied`])
    assert.ok((await seen()).includes(`${first}:applied`))
    assert.equal(await page.evaluate('window.notReloaded'), true, 'the page was never reloaded')
    await accessible('the patch list')
    await shot('patches')

    await page.locator(`tr[data-patch="${second}"] a`).click()
    await heading().filter({ hasText: second }).waitFor()
    assert.equal(await statusBadge().innerText(), 'applied')
    const landed = (await record(second)).result!
    assert.equal(await page.locator('code.commit').innerText(), landed.commit)
    await page.locator('.diff .d2h-file-wrapper').first().waitFor()
    const diffText = await page.locator('.diff').innerText()
    assert.match(diffText, /greeting\.txt/)
    assert.match(diffText, /HELLO/)
    assert.match(diffText, /Added by a patch/)
    for (const name of ['test', 'pause']) assert.match(await page.locator(`details[data-check="${name}"] summary`).innerText(), /passed.*exit 0/)
    await page.getByRole('button', { name: 'Unified' }).click()
    await page.locator('.diff .d2h-file-diff').first().waitFor()
    assert.equal(await page.locator('.diff .d2h-file-side-diff').count(), 0)
    assert.equal(await page.getByRole('button', { name: 'Unified' }).getAttribute('aria-pressed'), 'true')
    await accessible('an applied patch with its diff')
    await shot('patch-applied-unified')
    await page.getByRole('button', { name: 'Side by side' }).click()
    await page.locator('.diff .d2h-file-side-diff').first().waitFor()
    await shot('patch-applied')
    // The picture in the README (docs/ui.png) is this one, the window only.
    await page.screenshot({ path: join(SHOTS, 'readme.png') })
  })

  it("shows a failed check's exit status and output, live from queued to failed", async () => {
    const broken = await submit({ target: 'default', description: 'Break the build', operations: [{ op: 'write', path: 'BROKEN', contents: 'yes\n' }], checks: ['test'] })
    await page.evaluate(`location.hash = '#/patches/${broken}'`)
    await heading().filter({ hasText: broken }).waitFor()
    await until('the failure on the page', async () => (await statusBadge().innerText()) === 'failed', 60_000, output)
    const check = page.locator('details[data-check="test"]')
    assert.equal(await check.getAttribute('open'), '', 'a failed check opens by itself')
    assert.match(await check.locator('summary').innerText(), /failed.*exit 3/)
    assert.match(await check.locator('pre').innerText(), /BROKEN is present, failing on purpose/)
    assert.match(await page.locator('.card.problem').innerText(), /Why it failed[\s\S]*CHECK_FAILED/)
    // Nothing landed: what the patch asked for is shown instead of a diff.
    assert.match(await page.locator('.operations').innerText(), /write\s+BROKEN/)
    await accessible('a failed patch')
    await shot('patch-failed')
  })

  it('cancels a queued patch from its page', async () => {
    await submit({ target: 'busy', description: 'hold the busy lane', operations: [{ op: 'write', path: 'held.txt', contents: 'x\n' }], checks: ['hold'] })
    const waiting = await submit({ target: 'busy', description: 'Wait behind it', operations: [{ op: 'write', path: 'later.txt', contents: 'y\n' }] })
    await page.evaluate(`location.hash = '#/patches/${waiting}'`)
    await heading().filter({ hasText: waiting }).waitFor()
    assert.equal(await statusBadge().innerText(), 'queued')
    await shot('patch-queued')
    await page.getByRole('button', { name: 'Cancel this patch' }).click()
    await until('the cancellation on the page', async () => (await statusBadge().innerText()) === 'cancelled', 20_000, output)
    assert.equal(await page.getByRole('button', { name: 'Cancel this patch' }).count(), 0)
    assert.equal((await record(waiting)).status, 'cancelled')
    await accessible('a cancelled patch')
  })

  it('says when the live stream is lost and when it is back, and goes on updating', async () => {
    await page.locator('nav a', { hasText: 'Patches' }).click()
    await page.locator('[data-stream="live"]').waitFor()
    await kill(service.child)
    await page.locator('[data-stream="lost"]').waitFor({ timeout: 60_000 })
    assert.match(await page.locator('[data-stream="lost"]').innerText(), /Live updates lost at .*reconnecting/)
    await shot('stream-lost')
    service = await spawnService('start', env, { port: service.port, timeoutMs: 60_000 })
    await page.locator('[data-stream="back"]').waitFor({ timeout: 60_000 })
    assert.match(await page.locator('[data-stream="back"]').innerText(), /Live again since/)
    const later = await submit({ target: 'default', description: 'After the restart', operations: [{ op: 'write', path: 'after.txt', contents: 'z\n' }] })
    await page.locator(`tr[data-patch="${later}"]`).waitFor({ timeout: 30_000 })
    // Polled with the server's own view, so a timeout tells a patch that never landed from a page that missed it.
    let seen = ''
    await until(
      `${later} shown applied`,
      async () => {
        const shown = await page.locator(`tr[data-patch="${later}"]`).getAttribute('data-status')
        seen = `the list shows ${shown}, the server says ${(await record(later)).status}`
        return shown === 'applied'
      },
      60_000,
      () => `${seen}\n${output()}`,
    )
    await page.locator('nav a', { hasText: 'Overview' }).click()
    await page.locator('.legend', { hasText: 'applied 3' }).waitFor()
    await page.locator('tr', { hasText: 'ghost_runner' }).waitFor()
    await shot('overview-busy')
  })

  it('keeps what the stream said over a list read before it: a slow answer does not take a patch back', async () => {
    await page.evaluate(`location.hash = '#/patches'`)
    await page.locator('[data-stream="live"]').waitFor()
    const slow = await submit({ target: 'default', description: 'Outrun the list', operations: [{ op: 'write', path: 'slow.txt', contents: 's\n' }], checks: ['pause'] })
    await page.locator(`tr[data-patch="${slow}"][data-status="running"]`).waitFor({ timeout: 60_000 })
    // The list asked for next is read now, while the patch runs, and answered only after the
    // patch is applied and the stream has said so.
    const listed = (url: URL) => url.pathname.endsWith('/patches') && url.searchParams.has('limit')
    let held = false
    await page.route(listed, async (route) => {
      held = true
      const before = await route.fetch()
      await until('the patch applied', async () => (await record(slow)).status === 'applied', 60_000, output)
      await new Promise((r) => setTimeout(r, 1000))
      await route.fulfill({ response: before })
    })
    try {
      await page.getByLabel('Workspace').selectOption('default')
      // The stream's change may also come after the answer on a slow machine: then it is shown
      // as it comes. What must not happen is the answer's "running" staying on screen.
      let shown: unknown = null
      await until(
        'the held answer shown with the patch applied',
        async () => {
          shown = await page.evaluate(`document.querySelector('tr[data-patch="${slow}"]')?.dataset.status ?? null`)
          return held && shown === 'applied'
        },
        20_000,
        () => `the list shows ${String(shown)}\n${output()}`,
      )
    } finally {
      await page.unroute(listed)
    }
  })

  it('is readable at phone width', async () => {
    await page.setViewportSize({ width: 375, height: 800 })
    for (const hash of ['#/', '#/patches']) {
      await page.evaluate(`location.hash = '${hash}'`)
      await page.locator('main h1').waitFor()
      await page.waitForTimeout(300)
      const width = (await page.evaluate('document.documentElement.scrollWidth')) as number
      assert.ok(width <= 376, `${hash} is ${width}px wide at 375px`)
    }
    await shot('phone-patches')
  })

  it('needs no token from a server without credentials (loopback only), as `npm start` runs out of the box', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gr-ui-open-'))
    const open = await spawnService('start', { GHOST_DATA_DIR: dir, GHOST_DRAIN_DELAY_MS: '0' }, { timeoutMs: 60_000 })
    const tab = await browser.newPage()
    try {
      await tab.goto(`${open.url}/ui/`)
      await tab.locator('main h1', { hasText: 'Overview' }).waitFor()
      await tab.locator('header', { hasText: 'No credentials configured' }).waitFor()
      await tab.locator('tr[data-target="default"]').waitFor()
      await tab.locator('[data-stream="live"]').waitFor()
    } finally {
      await tab.close()
      await kill(open.child)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('sent no token in a URL, asked nothing of another origin, and raised no error (CSP included)', () => {
    assert.ok(requested.length > 10)
    for (const url of requested) {
      assert.ok(url.startsWith(`${service.url}/`), `a request to another origin: ${url}`)
      assert.ok(!url.includes(token), `the token in a URL: ${url}`)
    }
    assert.deepEqual(pageErrors, [])
  })
})
