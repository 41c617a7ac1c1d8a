import { isDeepStrictEqual } from 'node:util'

/**
 * What @fastify/swagger leaves for the document transform to do, so that generators get named
 * types and linters a clean contract:
 *
 * - Every TypeBox schema with a `title` becomes `components.schemas[title]`, referenced with
 *   `$ref` wherever a route uses it. @fastify/swagger would reference only schemas added with
 *   `addSchema` and referenced with `$ref` in the routes, which would make every TypeBox schema
 *   need a reference list where it is compiled (the payload validator, MCP tool schemas) and
 *   nested `$id`s are refused by Fastify's serializer compiler.
 * - A union of object schemas that each pin one required property to a distinct value (the
 *   operation kinds on `op`) becomes `oneOf` with a `discriminator` and its mapping.
 * - A response header schema carrying `required: true` (the Header Object's field, which
 *   @fastify/swagger copies into the schema) has it lifted onto the header.
 */

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

// Keywords whose values are data, not schemas: never searched for named schemas.
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples', 'example', 'discriminator', 'required'])
const COMPONENT_NAME = /^[A-Za-z0-9._-]+$/
const SCHEMA_PREFIX = '#/components/schemas/'

export function finishDocument<T extends object>(document: T): T {
  const doc = document as Json & { paths?: Json; components?: Json }
  const components = (doc.components ??= {}) as Json
  const schemas = (components.schemas ??= {}) as Record<string, Json>

  /** Replaces each titled subschema (innermost first) with a reference to its component. */
  const name = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(name)
    if (!isObject(node)) return node
    for (const [key, value] of Object.entries(node)) if (!DATA_KEYWORDS.has(key)) node[key] = name(value)
    const title = node.title
    if (typeof title !== 'string' || !('type' in node || 'anyOf' in node || 'oneOf' in node || 'allOf' in node)) return node
    if (!COMPONENT_NAME.test(title)) throw new Error(`schema title "${title}" cannot name a component: use letters, digits, ".", "_" or "-"`)
    const known = schemas[title]
    if (known && !isDeepStrictEqual(known, node)) {
      throw new Error(`two different schemas are titled "${title}": give one of them another title\n${JSON.stringify(known)}\n${JSON.stringify(node)}`)
    }
    schemas[title] = node
    return { $ref: SCHEMA_PREFIX + title }
  }

  for (const item of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(item as Record<string, Json>)) {
      for (const parameter of (operation.parameters as Json[] | undefined) ?? []) parameter.schema = name(parameter.schema)
      for (const media of Object.values(((operation.requestBody as Json | undefined)?.content as Record<string, Json> | undefined) ?? {})) media.schema = name(media.schema)
      for (const response of Object.values((operation.responses as Record<string, Json> | undefined) ?? {})) {
        for (const media of Object.values((response.content as Record<string, Json> | undefined) ?? {})) media.schema = name(media.schema)
        for (const header of Object.values((response.headers as Record<string, Json> | undefined) ?? {})) {
          const schema = header.schema as Json
          if (schema.required === true) {
            delete schema.required
            header.required = true
          }
          header.schema = name(schema)
        }
      }
    }
  }
  for (const schema of Object.values(schemas)) discriminate(schema, schemas)
  components.schemas = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)))
  return document
}

/** The single value a member schema pins `property` to, if it requires it. */
function pinned(member: Json, property: string): unknown {
  const required = member.required
  const schema = (member.properties as Record<string, Json> | undefined)?.[property]
  if (!Array.isArray(required) || !required.includes(property) || !schema) return undefined
  if ('const' in schema) return schema.const
  return Array.isArray(schema.enum) && schema.enum.length === 1 ? schema.enum[0] : undefined
}

/** anyOf of referenced objects that share a pinned property → oneOf with a discriminator on it. */
function discriminate(schema: Json, schemas: Record<string, Json>): void {
  const members = schema.anyOf
  if (!Array.isArray(members) || members.length < 2) return
  const refs = members.map((m) => (isObject(m) && typeof m.$ref === 'string' && m.$ref.startsWith(SCHEMA_PREFIX) ? m.$ref : null))
  if (refs.includes(null)) return
  const targets = refs.map((ref) => schemas[ref!.slice(SCHEMA_PREFIX.length)])
  if (targets.some((t) => !t)) return
  const first = targets[0]!
  for (const property of Object.keys((first.properties as Json | undefined) ?? {})) {
    const values = targets.map((t) => pinned(t!, property))
    if (values.some((v) => typeof v !== 'string') || new Set(values).size !== values.length) continue
    delete schema.anyOf
    schema.oneOf = members
    schema.discriminator = { propertyName: property, mapping: Object.fromEntries(values.map((v, i) => [v as string, refs[i]!])) }
    return
  }
}
