import { readFile } from 'node:fs/promises'
import { Validator } from '@seriousme/openapi-schema-validator'
import t from 'tap'
import YAML from 'yaml'
import { build } from './helper.js'

// The document at /docs/json: a valid OpenAPI 3.1 document with the official Conduit spec's paths,
// methods, operationIds and required fields (test/fixtures/conduit-openapi.yml is a copy of the
// RealWorld project's openapi.yml, MIT), and what a frontend developer needs to try it: examples,
// optional security declared as optional, every status a route can answer.

type Schema = { $ref?: string, properties?: Record<string, Schema>, required?: string[], items?: Schema }
interface Operation {
  operationId?: string
  parameters?: Array<{ name: string, in: string, required?: boolean }>
  requestBody?: { content: Record<string, { schema: Schema, examples?: unknown, example?: unknown }> }
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>
  security?: Array<Record<string, string[]>>
}
interface Document { paths: Record<string, Record<string, Operation>>, components?: { schemas?: Record<string, Schema> } }

const METHODS = ['get', 'post', 'put', 'delete']

/** An object, or what its `$ref` ("#/components/...") points to in the document. */
function deref<T> (doc: Document, value: T): T {
  const ref = (value as { $ref?: string } | undefined)?.$ref
  if (ref === undefined) return value
  const target = ref.replace(/^#\//, '').split('/').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc)
  return deref(doc, target as T)
}

/** Every required property path of a schema ("user.email"), following $refs within the document. */
function requiredPaths (doc: Document, schema: Schema | undefined, prefix = '', depth = 0): string[] {
  if (schema === undefined || depth > 6) return []
  if (schema.$ref !== undefined) return requiredPaths(doc, deref(doc, schema), prefix, depth + 1)
  if (schema.items !== undefined) return requiredPaths(doc, schema.items, `${prefix}[].`, depth + 1)
  return (schema.required ?? []).flatMap(name => [`${prefix}${name}`, ...requiredPaths(doc, schema.properties?.[name], `${prefix}${name}.`, depth + 1)])
}

const json = (content?: Record<string, { schema: Schema }>) => content?.['application/json']?.schema

const official = YAML.parse(await readFile(new URL('fixtures/conduit-openapi.yml', import.meta.url), 'utf8')) as Document
const app = await build(t)
const ours = (await app.inject({ url: '/docs/json' })).json<Document>()

t.test('a valid OpenAPI 3.1 document', async t => {
  const result = await new Validator().validate(ours as unknown as Record<string, unknown>)
  t.same(result.errors ?? [], [], 'no validation errors')
  t.ok(result.valid)
})

for (const [path, methods] of Object.entries(official.paths)) {
  for (const method of METHODS.filter(m => methods[m] !== undefined)) {
    const theirs = methods[method] as Operation
    t.test(`${method.toUpperCase()} /api${path} (${theirs.operationId ?? '?'})`, async t => {
      const mine = ours.paths[`/api${path}`]?.[method]
      if (mine === undefined) throw new Error(`no ${method.toUpperCase()} /api${path} in /docs/json`)
      t.equal(mine.operationId, theirs.operationId, 'the official operationId')

      const params = (op: Operation, where: string) => (op.parameters ?? []).map(p => deref(official, p)).filter(p => p.in === where)
      t.same(params(mine, 'path').map(p => p.name).sort(), params(theirs, 'path').map(p => p.name).sort(), 'the same path parameters')
      const theirQuery = new Map(params(theirs, 'query').map(p => [p.name, p.required === true]))
      for (const p of params(mine, 'query')) {
        t.ok(theirQuery.has(p.name), `query parameter ${p.name} is in the official spec`)
        if (p.required === true) t.equal(theirQuery.get(p.name), true, `${p.name} is required only where the official spec requires it`)
      }

      // A frontend sending what the official spec requires must be accepted, and must receive
      // everything it may rely on.
      const theirBody = requiredPaths(official, json(deref(official, theirs.requestBody)?.content))
      const myBody = requiredPaths(ours, json(mine.requestBody?.content))
      for (const field of myBody) t.ok(theirBody.includes(field), `request field ${field} is required by the official spec too`)
      const ok = (op: Operation) => Object.keys(op.responses).find(status => /^2/.test(status))
      t.equal(ok(mine), ok(theirs), 'the same success status')
      const theirResponse = requiredPaths(official, json(deref(official, theirs.responses[ok(theirs) as string])?.content))
      const myResponse = requiredPaths(ours, json(mine.responses[ok(mine) as string]?.content))
      for (const field of theirResponse) t.ok(myResponse.includes(field), `response field ${field} is always sent`)
    })
  }
}

t.test('what a frontend developer needs to try it', async t => {
  const optional = new Set(['GetProfileByUsername', 'GetArticles', 'GetArticle', 'GetArticleComments'])
  const open = new Set(['Login', 'CreateUser', 'GetTags'])
  for (const [path, methods] of Object.entries(ours.paths).filter(([path]) => path.startsWith('/api/'))) {
    for (const [method, op] of Object.entries(methods)) {
      const name = `${method.toUpperCase()} ${path}`
      if (optional.has(op.operationId ?? '')) t.same(op.security, [{ Token: [] }, {}], `${name}: the token is optional, and "Try it out" sends it`)
      else if (open.has(op.operationId ?? '')) t.equal(op.security, undefined, `${name}: no token`)
      else t.same(op.security, [{ Token: [] }], `${name}: a token is required`)
      for (const status of ['400', '429', '503', ...(op.security?.length === 1 || optional.has(op.operationId ?? '') ? ['401'] : [])]) {
        t.ok(op.responses[status] !== undefined, `${name}: declares ${status}`)
      }
      if (op.requestBody !== undefined) {
        for (const status of ['413', '415', '422']) t.ok(op.responses[status] !== undefined, `${name}: declares ${status}`)
        const body = op.requestBody.content['application/json']
        const example = body?.examples ?? body?.example ?? (body?.schema as { examples?: unknown }).examples
        t.ok(example !== undefined, `${name}: the request body has an example`)
      }
      for (const param of op.parameters ?? []) {
        if (param.in === 'query' && ['limit', 'offset'].includes(param.name)) t.not(param.required, true, `${name}: ${param.name} has a default, so it is optional`)
      }
    }
  }
  for (const name of ['User', 'Profile', 'Article', 'ArticleListItem', 'Comment', 'GenericErrorModel']) {
    t.ok((ours.components?.schemas?.[name] as { examples?: unknown[] } | undefined)?.examples?.length, `${name} has an example`)
  }
  const article = (ours.components?.schemas?.Article as { examples: Array<{ slug: string }> }).examples[0]
  t.equal((await app.inject({ url: '/api/articles' })).statusCode, 200)
  t.match(article?.slug, /^welcome-to-conduit-[0-9a-f]{6}$/, 'examples come from the demo data')
})
