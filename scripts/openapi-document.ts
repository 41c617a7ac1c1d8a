import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../src/app.js'
import { defineConfig } from '../src/config.js'

/**
 * The OpenAPI document as YAML, built from a fixed configuration so the output depends only on
 * the route schemas (servers: the default listen address).
 */
export async function generateOpenApi(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gr-openapi-'))
  const app = await buildApp(
    defineConfig({ dataDir, port: 5555, logLevel: 'silent', apiTokens: ['x'.repeat(16)], workspaces: { default: { path: dataDir } } as never }),
  )
  try {
    await app.ready()
    return app.swagger({ yaml: true })
  } finally {
    await app.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}
