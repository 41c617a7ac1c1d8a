/** Git's file modes: the only three a work tree file can have. */
export const MODE_FILE = 0o100644
export const MODE_EXEC = 0o100755
export const MODE_SYMLINK = 0o120000
export type FileMode = typeof MODE_FILE | typeof MODE_EXEC | typeof MODE_SYMLINK

export interface FileState {
  contents: Buffer
  /** For a symlink `contents` is the link target. */
  mode: FileMode
}

export interface FileChange {
  /** Relative to the workspace root, posix separators. */
  path: string
  /** null: absent. */
  before: FileState | null
  after: FileState | null
}

export const sameState = (a: FileState | null, b: FileState | null): boolean =>
  a === null || b === null ? a === b : a.mode === b.mode && a.contents.equals(b.contents)
