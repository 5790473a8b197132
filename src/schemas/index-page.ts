import { Type } from 'typebox'

/** GET /: where a newcomer goes from here. */
export const IndexPage = Type.Object({
  name: Type.String({ examples: ['gravity-bff'] }),
  api: Type.String({ description: 'the Conduit API\'s base path', examples: ['/api'] }),
  docs: Type.Optional(Type.String({ description: 'Swagger UI (absent with DOCS=off)', examples: ['/docs'] })),
  openapi: Type.Optional(Type.String({ description: 'the OpenAPI document (absent with DOCS=off)', examples: ['/docs/json'] })),
  health: Type.String({ description: 'readiness probe', examples: ['/health/ready'] })
})
