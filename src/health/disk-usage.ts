import { statfs } from 'node:fs/promises'
import { dirname } from 'node:path'

export interface DiskUsage {
  freeBytes: number
  totalBytes: number
  usedPercent: number
}

/**
 * Space on the filesystem that holds `dir`. A data directory not created yet is measured on its
 * nearest existing ancestor: that is where it will live.
 */
export async function diskUsage(dir: string): Promise<DiskUsage> {
  for (let path = dir; ; path = dirname(path)) {
    try {
      const s = await statfs(path)
      const totalBytes = s.blocks * s.bsize
      // bavail, not bfree: blocks reserved for root are no use to an unprivileged process.
      const freeBytes = s.bavail * s.bsize
      const usedPercent = s.blocks > 0 ? ((s.blocks - s.bfree) / s.blocks) * 100 : 0
      return { freeBytes, totalBytes, usedPercent }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(path) === path) throw err
    }
  }
}
