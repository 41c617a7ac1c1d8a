import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { Operation } from '../../src/schemas/patch.js'

/**
 * Payloads that plant a git repository (or what configures one) in the tree a patch writes, so
 * that a git process started in or on that tree would run commands the patch chose. Every such
 * command writes its environment into a marker file named for the way it ran, under `markers`:
 * a test that finds `markers` empty afterwards has proven none of them ran.
 */

/** How the planted repository is laid out. */
export type Layout =
  /** HEAD, config (core.bare), objects/, refs/ and info/attributes at the top of the tree. */
  | 'bare'
  /** HEAD and a commondir file naming a directory that holds config, objects/, refs/ and info/. */
  | 'commondir'
  /** The bare layout, its objects borrowing from a repository outside the tree. */
  | 'alternates'
  /** A repository whose config makes the tree its work tree: the tree's .gitattributes select the drivers. */
  | 'worktree-attributes'
  /** The bare layout in a subfolder. */
  | 'nested'

export const LAYOUTS: readonly Layout[] = ['bare', 'commondir', 'alternates', 'worktree-attributes', 'nested']

/** A shell command that leaves `markers/<name>` holding the environment it ran with. */
export const markerCommand = (markers: string, name: string) => `env > ${path.join(markers, name)}`

/** The names of the marker files present under `markers` (empty: nothing ran). */
export const markersLeft = (markers: string): string[] => readdirSync(markers).sort()

/** The entries of two treeState() snapshots that differ, by path. */
export function changedEntries(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((p) => before[p] !== after[p]).sort()
}

/** Which marker files are there, and which of the service's settings each command saw, for a failure message. */
export const markerReport = (markers: string): string =>
  markersLeft(markers)
    .map((m) => {
      const names = readFileSync(path.join(markers, m), 'utf8').split('\n').map((l) => l.slice(0, l.indexOf('='))).filter(Boolean)
      const telling = names.filter((n) => /GHOST|CANARY|TOKEN|SECRET|DATABASE/.test(n))
      return `${m}: ran with ${names.length} variables${telling.length > 0 ? `, among them ${telling.join(', ')}` : ''}`
    })
    .join('\n')

/** Drivers, hooks and helpers git may run, each defined to leave a marker. */
function plantedConfig(markers: string, core: string[]): string {
  const run = (name: string) => JSON.stringify(markerCommand(markers, name))
  const pass = (name: string) => JSON.stringify(`${markerCommand(markers, name)}; cat`)
  return [
    '[core]',
    ...core.map((l) => `\t${l}`),
    `\tfsmonitor = ${run('core-fsmonitor')}`,
    '\thooksPath = hooks',
    `\tsshCommand = ${run('core-sshCommand')}`,
    `\tpager = ${run('core-pager')}`,
    `\taskPass = ${run('core-askPass')}`,
    '[filter "x"]',
    `\tclean = ${pass('filter-clean')}`,
    `\tsmudge = ${pass('filter-smudge')}`,
    '\trequired = true',
    '[diff "x"]',
    `\tcommand = ${run('diff-command')}`,
    `\ttextconv = ${pass('diff-textconv')}`,
    '[merge "x"]',
    `\tdriver = ${run('merge-driver')}`,
    '',
  ].join('\n')
}

const ATTRIBUTES = '* filter=x diff=x merge=x\n'
const HOOKS = ['pre-commit', 'prepare-commit-msg', 'commit-msg', 'post-commit', 'post-checkout', 'post-merge', 'reference-transaction', 'post-index-change', 'pre-push', 'post-applypatch']

/** The files of a planted repository, by path. */
function plantedFiles(layout: Layout, markers: string, outside: string): Record<string, string> {
  const head = 'ref: refs/heads/main\n'
  switch (layout) {
    case 'bare':
    case 'nested':
      return { HEAD: head, config: plantedConfig(markers, ['bare = true']), 'objects/keep': 'keep\n', 'refs/keep': 'keep\n', 'info/attributes': ATTRIBUTES }
    case 'alternates':
      return {
        HEAD: head,
        config: plantedConfig(markers, ['bare = true']),
        'objects/keep': 'keep\n',
        'objects/info/alternates': `${path.join(outside, 'objects')}\n`,
        'refs/keep': 'keep\n',
        'info/attributes': ATTRIBUTES,
      }
    case 'commondir':
      return {
        HEAD: head,
        commondir: 'common\n',
        'common/config': plantedConfig(markers, ['bare = true']),
        'common/objects/keep': 'keep\n',
        'common/refs/keep': 'keep\n',
        'common/info/attributes': ATTRIBUTES,
      }
    case 'worktree-attributes':
      return { HEAD: head, config: plantedConfig(markers, ['bare = false', 'worktree = .']), 'objects/keep': 'keep\n', 'refs/keep': 'keep\n', '.gitattributes': ATTRIBUTES }
  }
}

/**
 * A diff section that replaces every line of a file with itself, leaving it as it is: git must
 * read (and would filter) the file to apply it. A hunk without trailing context must reach the
 * end of the file, so it spans the whole file.
 */
function touch(p: string, contents: string): string[] {
  const lines = contents.replace(/\n$/, '').split('\n')
  return [`diff --git a/${p} b/${p}`, `--- a/${p}`, `+++ b/${p}`, `@@ -1,${lines.length} +1,${lines.length} @@`, ...lines.map((l) => `-${l}`), ...lines.map((l) => `+${l}`)]
}

const newExecutable = (p: string, body: string) => [`diff --git a/${p} b/${p}`, 'new file mode 100755', '--- /dev/null', `+++ b/${p}`, '@@ -0,0 +1,2 @@', '+#!/bin/sh', `+${body}`]

export interface PlantedPayload {
  /** write ops planting the repository, then one diff op touching every file of it (and adding hooks). */
  operations: Operation[]
  /** The paths the patch writes, relative to the workspace. */
  paths: string[]
  /** A diff op for a later patch, once the planted files are in the workspace: it touches each again. */
  touchAgain: Operation
}

/**
 * The repository of `layout` planted by write ops, then a diff op that touches each of its files
 * (copying them into wherever the diff is applied) and adds executable hooks. With `failLastHunk`
 * the diff's last section does not apply, so the patch must end rejected.
 */
export function plantedPayload(layout: Layout, opts: { markers: string; outside: string; failLastHunk: boolean }): PlantedPayload {
  const prefix = layout === 'nested' ? 'nested/' : ''
  const files = Object.entries(plantedFiles(layout, opts.markers, opts.outside)).map(([p, contents]) => [prefix + p, contents] as const)
  const touches = files.map(([p, contents]) => touch(p, contents))
  const hooks = HOOKS.map((hook) => newExecutable(`${prefix}hooks/${hook}`, markerCommand(opts.markers, `hook-${hook}`)))
  // Last, so every file above is already in place when it fails.
  const last = touch(`${prefix}README.md`, opts.failLastHunk ? 'a line the file does not have\n' : '# demo\n')
  const operations: Operation[] = [
    ...(prefix === '' ? [] : [{ op: 'write' as const, path: `${prefix}README.md`, contents: '# demo\n' }]),
    ...files.map(([p, contents]) => ({ op: 'write' as const, path: p, contents })),
    { op: 'diff', diff: `${[...touches, ...hooks, last].flat().join('\n')}\n` },
  ]
  const paths = [...(prefix === '' ? [] : [`${prefix}README.md`]), ...files.map(([p]) => p), ...HOOKS.map((h) => `${prefix}hooks/${h}`)]
  return { operations, paths, touchAgain: { op: 'diff', diff: `${touches.flat().join('\n')}\n` } }
}
