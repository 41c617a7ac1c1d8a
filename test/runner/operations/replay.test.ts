import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { before, describe, it } from 'node:test'
import { planOperations } from '../../../src/runner/operations/index.js'
import { git, makeRepo, writeChanges, writeTree, type Tree } from '../../helpers/operations.js'
import { toV4A, type FileEdit } from './v4a-from-files.js'

const handler = (name: string, body: string) => [`export function ${name}(req: Request, res: Response) {`, '  const id = req.params.id', `  ${body}`, '  return res', '}', ''].join('\n')

const STRINGS = [
  'export function trim(s: string): string {',
  '  return s.trim()',
  '}',
  '',
  'export function upper(s: string): string {',
  '  return s.toUpperCase()',
  '}',
  '',
  'export function lower(s: string): string {',
  '  return s.toLowerCase()',
  '}',
  '',
  'export function pad(s: string, n: number): string {',
  "  return s.padStart(n, ' ')",
  '}',
  '',
].join('\n')

// Services whose bodies are identical for more lines than a chunk's usual context.
const service = (name: string, replicas: number) =>
  [`  ${name}:`, '    image: demo:latest', '    restart: always', '    cpu: 1', '    memory: 512Mi', `    replicas: ${replicas}`, '    port: 8080', '    healthcheck: /health', '    logs: json', ''].join('\n')
const SERVICES = (api: number, worker: number, cron: number) => `services:\n${service('api', api)}${service('worker', worker)}${service('cron', cron)}`

/** Six commits of the kind a real project makes, each a different mix of changes. */
const HISTORY: Array<{ message: string; write?: Tree; remove?: string[]; move?: Array<[string, string]> }> = [
  {
    message: 'tighten string helpers, add numbers',
    write: {
      'src/util/strings.ts': STRINGS.replace('  return s.toUpperCase()', '  return s.toLocaleUpperCase()').replace(
        '  return s.toLowerCase()',
        '  // locale-aware on purpose\n  return s.toLocaleLowerCase()',
      ),
      'README.md': '# Demo\n\nA small service.\n\nRun `npm start`.\n\n## License\n\nMIT\n',
      'src/util/numbers.ts': 'export const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n))\n',
    },
  },
  {
    message: 'move strings to src/text, drop the guide',
    move: [['src/util/strings.ts', 'src/text/strings.ts']],
    write: {
      'src/index.ts': "import { trim } from './text/strings.js'\nimport { clamp } from './util/numbers.js'\n\nconsole.log(trim('  hi  '), clamp(5, 0, 3))\n",
      'docs/intro.md': '# Introduction\n\nStart here.\n',
    },
    remove: ['docs/guide.md'],
  },
  {
    message: 'handlers: nearby edits in repetitive code',
    write: {
      'src/server.ts': [
        "import type { Request, Response } from './http.js'",
        '',
        handler('getUser', 'res.send(await users.get(id))'),
        handler('getTeam', 'res.send(await teams.get(id, { members: true }))'),
        handler('getOrg', 'res.send(await orgs.get(id))'),
        '// end of handlers',
        '',
      ].join('\n'),
    },
  },
  {
    message: 'rename README, bump version, edit CRLF script',
    move: [['README.md', 'README.markdown']],
    write: {
      'package.json': '{\n  "name": "demo",\n  "version": "0.2.0",\n  "type": "module",\n  "scripts": {\n    "start": "node dist/index.js",\n    "test": "node --test"\n  }\n}\n',
      'scripts/build.bat': '@echo off\r\nrem build the demo\r\nnpm run build --if-present\r\nnpm test\r\n',
      VERSION: '0.2.0',
    },
  },
  {
    message: 'rewrite index, remove numbers, add a test',
    remove: ['src/util/numbers.ts'],
    write: {
      'src/index.ts': "import { trim, upper } from './text/strings.js'\n\nconst args = process.argv.slice(2)\nfor (const a of args) console.log(upper(trim(a)))\n",
      'test/strings.test.ts': "import { trim } from '../src/text/strings.js'\nimport assert from 'node:assert'\n\nassert.equal(trim(' a '), 'a')\n",
    },
  },
  {
    message: 'edits inside identical blocks, first and last lines',
    write: {
      'src/server.ts': [
        "import type { Request, Response } from './http.ts'",
        '',
        handler('getUser', 'res.send(await users.get(id))'),
        handler('getTeam', 'res.send(await teams.get(id, { members: true }))'),
        handler('getOrg', 'res.send(await orgs.get(id))').replace('  return res', '  return res.status(200)'),
        '// end of handlers (3)',
        '',
      ].join('\n'),
      'deploy/services.yaml': SERVICES(1, 3, 2),
      'src/text/strings.ts': STRINGS.replace('  return s.toUpperCase()', '  return s.toLocaleUpperCase()')
        .replace('  return s.toLowerCase()', '  // locale-aware on purpose\n  return s.toLocaleLowerCase()')
        .replace("  return s.padStart(n, ' ')", "  return s.padEnd(n, ' ')"),
    },
  },
]

const INITIAL: Tree = {
  'deploy/services.yaml': SERVICES(1, 1, 1),
  'package.json': '{\n  "name": "demo",\n  "version": "0.1.0",\n  "type": "module",\n  "scripts": {\n    "start": "node dist/index.js"\n  }\n}\n',
  'README.md': '# Demo\n\nA small service.\n\n## License\n\nMIT\n',
  'src/index.ts': "import { trim } from './util/strings.js'\n\nconsole.log(trim('  hi  '))\n",
  'src/util/strings.ts': STRINGS,
  'src/server.ts': [
    "import type { Request, Response } from './http.js'",
    '',
    handler('getUser', 'res.send(await users.get(id))'),
    handler('getTeam', 'res.send(await teams.get(id))'),
    handler('getOrg', 'res.send(await orgs.get(id))'),
    '// end of handlers',
    '',
  ].join('\n'),
  'docs/guide.md': '# Guide\n\n1. Install\n2. Run\n',
  'scripts/build.bat': '@echo off\r\nnpm run build\r\nnpm test\r\n',
  VERSION: '0.1.0',
}

function buildHistory(): { root: string; commits: string[] } {
  const root = makeRepo(INITIAL)
  const commits = [git(root, 'rev-parse', 'HEAD').trim()]
  for (const step of HISTORY) {
    for (const [from, to] of step.move ?? []) {
      mkdirSync(path.dirname(path.join(root, to)), { recursive: true })
      git(root, 'mv', from, to)
    }
    for (const p of step.remove ?? []) git(root, 'rm', '-q', p)
    writeTree(root, step.write ?? {})
    git(root, 'add', '-A')
    git(root, 'commit', '-q', '-m', step.message)
    commits.push(git(root, 'rev-parse', 'HEAD').trim())
  }
  return { root, commits }
}

function checkout(root: string, commit: string): void {
  git(root, 'checkout', '-q', '-f', '--detach', commit)
  git(root, 'clean', '-fdxq')
}

function treeAfterWriting(root: string): string {
  git(root, 'add', '-A')
  return git(root, 'write-tree').trim()
}

const show = (root: string, commit: string, p: string): string =>
  execFileSync('git', ['show', `${commit}:${p}`], { cwd: root, encoding: 'utf8' })

/** The commit's changes as whole-file edits, renames detected as git does with -M. */
function editsOf(root: string, parent: string, commit: string): FileEdit[] {
  const status = git(root, 'diff', '--name-status', '-M', '-z', parent, commit).split('\0').filter((s) => s !== '')
  const edits: FileEdit[] = []
  for (let i = 0; i < status.length; ) {
    const kind = status[i++]!
    if (kind.startsWith('R')) {
      const from = status[i++]!
      const to = status[i++]!
      edits.push({ path: to, from, before: show(root, parent, from), after: show(root, commit, to) })
    } else {
      const p = status[i++]!
      edits.push({
        path: p,
        before: kind === 'A' ? null : show(root, parent, p),
        after: kind === 'D' ? null : show(root, commit, p),
      })
    }
  }
  return edits
}

describe('replaying real history', () => {
  let root = ''
  let commits: string[] = []
  before(() => {
    ;({ root, commits } = buildHistory())
    assert.equal(commits.length, HISTORY.length + 1)
  })

  for (let n = 1; n <= HISTORY.length; n++) {
    const title = HISTORY[n - 1]!.message

    it(`commit ${n} as a git diff: ${title}`, async () => {
      const [parent, commit] = [commits[n - 1]!, commits[n]!]
      checkout(root, parent)
      const diff = git(root, 'diff', '-M', '--binary', parent, commit)
      const changes = await planOperations(root, [{ op: 'diff', diff }])
      assert.ok(changes.length > 0)
      writeChanges(root, changes)
      assert.equal(treeAfterWriting(root), git(root, 'rev-parse', `${commit}^{tree}`).trim())
    })

    it(`commit ${n} as a V4A patch: ${title}`, async () => {
      const [parent, commit] = [commits[n - 1]!, commits[n]!]
      checkout(root, parent)
      const patch = toV4A(editsOf(root, parent, commit))
      if (process.env.SHOW_V4A) console.log(patch)
      const changes = await planOperations(root, [{ op: 'apply_patch', patch }])
      writeChanges(root, changes)
      assert.equal(treeAfterWriting(root), git(root, 'rev-parse', `${commit}^{tree}`).trim(), patch)
    })
  }

  it('uses renames and deletions, and context that repeats in the file', () => {
    const all = commits.slice(1).map((c, i) => git(root, 'diff', '--name-status', '-M', commits[i]!, c)).join('')
    assert.match(all, /^R\d+/m)
    assert.match(all, /^D\t/m)
    // The last commit edits the second and third of three services whose bodies are identical:
    // the first chunk needed wider context, the second relies on searching forward from it.
    const patch = toV4A(editsOf(root, commits[HISTORY.length - 1]!, commits[HISTORY.length]!))
    assert.match(patch, /- {4}replicas: 1\n\+ {4}replicas: 3\n( .*\n)+ {3}cron:\n@@\n( .*\n)+- {4}replicas: 1\n\+ {4}replicas: 2/)
  })

  it('rejects the same patches against the wrong parent, writing nothing', async () => {
    const last = commits.length - 1
    checkout(root, commits[0]!)
    const diff = git(root, 'diff', '-M', commits[last - 1]!, commits[last]!)
    await assert.rejects(planOperations(root, [{ op: 'diff', diff }]), { name: 'RejectError' })
    const patch = toV4A(editsOf(root, commits[last - 1]!, commits[last]!))
    await assert.rejects(planOperations(root, [{ op: 'apply_patch', patch }]), { name: 'RejectError' })
    assert.equal(git(root, 'status', '--porcelain'), '')
  })
})
