import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { git, type GitOptions } from '../../../src/runner/workspace/git.js'
import { git as plainGit, makeWorkspace, tempDir } from '../../helpers/git.js'

/** The environment a command git starts sees (an alias runs through the shell, as a filter or hook would). */
async function childEnv(opts: GitOptions): Promise<Record<string, string>> {
  const out = await git(['-c', 'alias.show-env=!env -0', 'show-env'], opts)
  return Object.fromEntries(out.split('\0').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
}

// What the shell that runs the alias adds by itself.
const SHELL = new Set(['PWD', 'OLDPWD', 'SHLVL', '_'])
// What git adds for the commands it starts.
const FROM_GIT = new Set(['GIT_CONFIG_PARAMETERS', 'GIT_PREFIX', 'GIT_EXEC_PATH'])
const BASE = ['GIT_CONFIG_GLOBAL', 'GIT_CONFIG_NOSYSTEM', 'GIT_OPTIONAL_LOCKS', 'GIT_TERMINAL_PROMPT', 'HOME', 'LC_ALL', 'PATH']
const names = (env: Record<string, string>) => Object.keys(env).filter((k) => !SHELL.has(k) && !FROM_GIT.has(k)).sort()

/** Runs `fn` with `vars` in this process's environment, as the service would have them. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  Object.assign(process.env, vars)
  try {
    return await fn()
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

const SERVICE_ENV = {
  GHOST_API_TOKENS: 'canary-token-0123456789abcdef',
  GHOST_WEBHOOK_SECRETS: 'whsec_canary',
  DATABASE_URL: 'postgres://canary@127.0.0.1/x',
  GIT_DIR: '/nonexistent/canary.git',
  GIT_INDEX_FILE: '/nonexistent/canary-index',
  GIT_CONFIG: '/nonexistent/canary-config',
  XDG_CONFIG_HOME: '/nonexistent/canary-xdg',
  USER: 'canary',
  TMPDIR: os.tmpdir(),
  SSH_AUTH_SOCK: '/nonexistent/canary-agent.sock',
}

describe('the environment git runs in', () => {
  it('is built from nothing: PATH, a private empty HOME, the locale, no configuration beyond the repository', async () => {
    const env = await withEnv(SERVICE_ENV, () => childEnv({ cwd: tempDir() }))
    assert.deepEqual(names(env), BASE)
    assert.ok(!Object.values(env).some((v) => v.includes('canary')), JSON.stringify(env))
    assert.equal(env.LC_ALL, 'C')
    assert.equal(env.GIT_CONFIG_NOSYSTEM, '1')
    assert.equal(env.GIT_CONFIG_GLOBAL, os.devNull)
    assert.equal(env.GIT_TERMINAL_PROMPT, '0')
    const home = env.HOME!
    assert.notEqual(home, os.homedir())
    const st = statSync(home)
    assert.ok(st.isDirectory())
    assert.equal(st.mode & 0o777, 0o700, 'HOME is private to the service')
    assert.equal(st.uid, process.getuid!())
    assert.deepEqual(readdirSync(home), [], 'HOME is empty')
  })

  it('names the repository explicitly: git dir and work tree, never what the tree holds', async () => {
    // The work tree holds a planted bare repository and a gitfile naming yet another one; the
    // real git dir lives apart from the tree (as with --separate-git-dir).
    const elsewhere = path.join(tempDir(), 'real.git')
    const root = tempDir()
    plainGit(root, 'init', '-q', '-b', 'main', '--separate-git-dir', elsewhere)
    const decoy = path.join(tempDir(), 'decoy.git')
    plainGit(path.dirname(decoy), 'init', '-q', '--bare', decoy)
    writeFileSync(path.join(root, '.git'), `gitdir: ${decoy}\n`)
    writeFileSync(path.join(root, 'HEAD'), 'ref: refs/heads/main\n')
    writeFileSync(path.join(root, 'config'), '[core]\n\tbare = true\n')
    const out = await git(['rev-parse', '--absolute-git-dir', '--show-toplevel'], { repo: { root, gitDir: elsewhere } })
    assert.deepEqual(out.trim().split('\n'), [elsewhere, root])
    const env = await withEnv(SERVICE_ENV, () => childEnv({ repo: { root, gitDir: elsewhere } }))
    assert.deepEqual(names(env), [...BASE, 'GIT_DIR', 'GIT_WORK_TREE'].sort())
    assert.equal(env.GIT_DIR, elsewhere)
    assert.equal(env.GIT_WORK_TREE, root)
  })

  it('adds the identity only where asked, and what remote credentials need only for remote calls', async () => {
    const root = makeWorkspace()
    const repo = { root, gitDir: path.join(root, '.git') }
    const identity = { name: 'Ghost Runner', email: 'ghost@example.com' }
    const withIdentity = await childEnv({ repo, identity })
    assert.deepEqual(
      [withIdentity.GIT_AUTHOR_NAME, withIdentity.GIT_AUTHOR_EMAIL, withIdentity.GIT_COMMITTER_NAME, withIdentity.GIT_COMMITTER_EMAIL],
      [identity.name, identity.email, identity.name, identity.email],
    )
    const remote = await withEnv({ ...SERVICE_ENV, HOME: '/home/operator', https_proxy: 'http://proxy:3128' }, () => childEnv({ repo, remote: true }))
    assert.equal(remote.HOME, '/home/operator', 'remote calls see the real HOME (~/.ssh, ~/.git-credentials, ~/.netrc)')
    assert.equal(remote.SSH_AUTH_SOCK, SERVICE_ENV.SSH_AUTH_SOCK)
    assert.equal(remote.https_proxy, 'http://proxy:3128')
    for (const name of ['GHOST_API_TOKENS', 'GHOST_WEBHOOK_SECRETS', 'DATABASE_URL', 'GIT_INDEX_FILE', 'GIT_CONFIG', 'XDG_CONFIG_HOME', 'USER']) assert.equal(remote[name], undefined, name)
  })

  it('overrides whatever the repository configures to run or redirect something', async () => {
    const root = makeWorkspace()
    for (const [key, value] of [
      ['core.hooksPath', 'hooks'],
      ['core.fsmonitor', 'touch fsmonitor'],
      ['core.attributesFile', 'attributes'],
      ['submodule.recurse', 'true'],
      ['fetch.recurseSubmodules', 'true'],
      ['push.recurseSubmodules', 'on-demand'],
      ['commit.gpgSign', 'true'],
    ]) plainGit(root, 'config', key!, value!)
    const repo = { root, gitDir: path.join(root, '.git') }
    const get = async (key: string) => (await git(['config', '--get', key], { repo })).trim()
    assert.equal(await get('safe.bareRepository'), 'explicit')
    assert.equal(await get('core.fsmonitor'), 'false')
    assert.equal(await get('core.attributesFile'), os.devNull)
    assert.equal(await get('submodule.recurse'), 'false')
    assert.equal(await get('fetch.recurseSubmodules'), 'false')
    assert.equal(await get('push.recurseSubmodules'), 'no')
    assert.equal(await get('commit.gpgSign'), 'false')
    const hooks = await get('core.hooksPath')
    assert.ok(path.isAbsolute(hooks) && !hooks.startsWith(root), hooks)
    assert.deepEqual(readdirSync(hooks), [], 'the hooks directory is empty')
    assert.equal(statSync(hooks).mode & 0o777, 0o700)
  })
})

it('refuses a directory for git that is not private to the service, and empties one left with files in it', () => {
  const tmp = tempDir()
  const dir = path.join(tmp, `ghost-runner-git-${process.getuid!()}`)
  // A fresh process, its temp directory in `tmp`, runs one git command.
  const script = "import('./src/runner/workspace/git.ts').then((m) => m.git(['--version'], { cwd: '.' })).then(() => process.stdout.write('ran'), (e) => process.stdout.write(e.message))"
  const run = () =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../../..', import.meta.url).pathname,
      env: { ...process.env, TMPDIR: tmp },
      encoding: 'utf8',
      timeout: 30_000,
    }).stdout

  mkdirSync(dir)
  chmodSync(dir, 0o777)
  assert.match(run(), /is not a directory private to this user/)

  chmodSync(dir, 0o700)
  for (const [sub, file] of [['hooks', 'post-commit'], ['home', '.gitconfig']] as const) {
    mkdirSync(path.join(dir, sub))
    writeFileSync(path.join(dir, sub, file), '#!/bin/sh\n')
  }
  assert.equal(run(), 'ran')
  assert.deepEqual(readdirSync(path.join(dir, 'hooks')), [])
  assert.deepEqual(readdirSync(path.join(dir, 'home')), [])
})
