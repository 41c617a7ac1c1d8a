// Regenerates openapi.yaml from the route schemas: `npm run openapi`. A test fails when the
// committed file differs from what this produces.
import { writeFileSync } from 'node:fs'
import { generateOpenApi } from './openapi-document.js'

writeFileSync(new URL('../openapi.yaml', import.meta.url), await generateOpenApi())
process.stdout.write('openapi.yaml written\n')
