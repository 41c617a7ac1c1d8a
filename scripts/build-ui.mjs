// Builds the operator's page (ui/) into dist/ui, which GET /ui serves: one script and one
// stylesheet bundled by esbuild (nothing fetched at run time), content-hashed names, and .br/.gz
// copies beside each file. Files are written before the index that names them, the index is
// swapped in with a rename, and only then are the previous build's files removed, so a running
// server never serves a page whose assets are missing.
import process from 'node:process'
import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import { URL, fileURLToPath } from 'node:url'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = join(root, 'dist', 'ui')

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: 'ui/src/main.tsx' },
  bundle: true,
  write: false,
  outdir: out,
  entryNames: '[name]-[hash]',
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  legalComments: 'eof',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
})

/** name → bytes of everything the page is made of. */
const files = new Map()
for (const file of result.outputFiles) files.set(basename(file.path), Buffer.from(file.contents))
const icon = await readFile(join(root, 'ui', 'icon.svg'))
const iconName = `icon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`
files.set(iconName, icon)

const named = { 'icon.svg': iconName }
for (const name of files.keys()) {
  const ext = extname(name)
  if (name.startsWith('app-')) named[`app${ext}`] = name
}
let index = await readFile(join(root, 'ui', 'index.html'), 'utf8')
index = index.replace(/\{\{([a-z.]+)\}\}/g, (_, key) => {
  if (!named[key]) throw new Error(`ui/index.html names {{${key}}}, which the build did not produce`)
  return named[key]
})

const compressed = (bytes) => [
  ['.br', brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } })],
  ['.gz', gzipSync(bytes, { level: 9 })],
]

await mkdir(out, { recursive: true })
const keep = new Set()
const put = async (name, bytes) => {
  // Written aside and renamed: a reader sees the old file or the new one, never half of one.
  const temp = join(out, `.${name}.${process.pid}.tmp`)
  await writeFile(temp, bytes)
  await rename(temp, join(out, name))
  keep.add(name)
}
const sizes = []
for (const [name, bytes] of files) {
  await put(name, bytes)
  const [[, br], [, gz]] = compressed(bytes)
  for (const [ext, data] of compressed(bytes)) await put(name + ext, data)
  sizes.push({ name, bytes: bytes.length, gzip: gz.length, brotli: br.length })
}
const indexBytes = Buffer.from(index)
for (const [ext, data] of compressed(indexBytes)) await put(`index.html${ext}`, data)
await put('index.html', indexBytes)
for (const name of await readdir(out)) {
  if (!keep.has(name) && !name.endsWith('.tmp')) await rm(join(out, name), { force: true })
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`
const total = sizes.reduce((t, s) => ({ bytes: t.bytes + s.bytes, gzip: t.gzip + s.gzip, brotli: t.brotli + s.brotli }), { bytes: 0, gzip: 0, brotli: 0 })
for (const s of sizes) process.stdout.write(`dist/ui/${s.name}: ${kib(s.bytes)} (gzip ${kib(s.gzip)}, brotli ${kib(s.brotli)})\n`)
process.stdout.write(`dist/ui total: ${kib(total.bytes)} (gzip ${kib(total.gzip)}, brotli ${kib(total.brotli)})\n`)
