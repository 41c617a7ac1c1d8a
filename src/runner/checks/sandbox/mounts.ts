/** A real (symlink-free) path a check must not see: a directory is covered by an empty tmpfs, anything else by /dev/null. */
export interface HiddenPath {
  path: string
  directory: boolean
}

export interface SandboxSpec {
  /** Real path of the workspace: the only writable place besides the private /tmp. */
  workspace: string
  /** Real path of the workspace's git dir: visible, never writable (git obeys its config and hooks). */
  gitDir: string | null
  hidden: readonly HiddenPath[]
  /** Real paths under a hidden directory to show again, read-only (resolv.conf under /run, for the network). */
  reveal: readonly string[]
  /** Empty, writable and private to the sandbox: /tmp, /var/tmp where it exists. */
  privateDirs: readonly string[]
  /** Size of each private tmpfs. */
  tmpBytes: number
  network: boolean
  env: Readonly<Record<string, string>>
}

/** HOME inside the sandbox: an empty directory in its private /tmp. */
export const SANDBOX_HOME = '/tmp/home'

const within = (parent: string, p: string) => p === parent || p.startsWith(parent.endsWith('/') ? parent : `${parent}/`)
const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1)

/**
 * The bubblewrap argv (up to its `--`) for one check. The host's root is mounted read-only and
 * then covered, parents before children: the hidden paths, then the workspace and its git dir
 * bound again where they lie under a hidden directory (the default workspace lives in the data
 * directory, which is hidden). Every namespace is new, the network's too unless the workspace
 * allows it; the environment is exactly `env`.
 */
export function bwrapArgv(bwrap: string, spec: SandboxSpec): string[] {
  const { workspace, gitDir } = spec
  const covered = [...spec.privateDirs]
  const hides: HiddenPath[] = []
  // Shortest first, so a path inside one already hidden is seen to be redundant.
  for (const h of [...spec.hidden].sort((a, b) => depth(a.path) - depth(b.path))) {
    if (h.path === '/' || within(workspace, h.path) || (gitDir !== null && within(gitDir, h.path))) continue
    if (covered.some((c) => within(c, h.path))) continue
    covered.push(h.path)
    hides.push(h)
  }

  const mounts: { at: string; args: string[] }[] = []
  for (const dir of spec.privateDirs) mounts.push({ at: dir, args: ['--perms', '1777', '--size', String(spec.tmpBytes), '--tmpfs', dir] })
  mounts.push({ at: SANDBOX_HOME, args: ['--dir', SANDBOX_HOME] })
  for (const h of hides) mounts.push({ at: h.path, args: h.directory ? ['--tmpfs', h.path] : ['--ro-bind', '/dev/null', h.path] })
  mounts.push({ at: workspace, args: ['--bind', workspace, workspace] })
  if (gitDir !== null) mounts.push({ at: gitDir, args: ['--ro-bind', gitDir, gitDir] })
  for (const p of spec.reveal) if (hides.some((h) => h.directory && within(h.path, p))) mounts.push({ at: p, args: ['--ro-bind', p, p] })
  // A stable sort: at one depth the order above holds.
  mounts.sort((a, b) => depth(a.at) - depth(b.at))

  const env = Object.entries(spec.env).flatMap(([k, v]) => ['--setenv', k, v])
  return [
    bwrap,
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    ...mounts.flatMap((m) => m.args),
    // The tmpfs over a hidden directory is empty and stays so: a check cannot fill memory there.
    ...hides.filter((h) => h.directory).flatMap((h) => ['--remount-ro', h.path]),
    '--unshare-user', '--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup',
    ...(spec.network ? [] : ['--unshare-net']),
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--cap-drop', 'ALL',
    '--clearenv',
    ...env,
    '--chdir', workspace,
    '--',
  ]
}
