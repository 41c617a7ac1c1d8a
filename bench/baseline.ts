// The bare Fastify baseline measured in the same run as the service: a constant GET and a POST
// that parses the same JSON body and answers 202. No plugins, no store, no validation.
import Fastify from 'fastify'

const app = Fastify({ bodyLimit: 4 * 1024 * 1024 })
const constant = { status: 'ok', timestamp: new Date().toISOString() }
app.get('/baseline', async () => constant)
app.post('/baseline', async (request, reply) => {
  const body = request.body as { target?: string }
  return reply.code(202).send({ id: 'baseline', status: 'queued', target: body.target ?? null })
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.stdout.write(`listening ${(app.server.address() as { port: number }).port}\n`)
