import { Type, type Static } from 'typebox'

export const Liveness = Type.Object({ status: Type.Literal('ok') })

const Check = Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('down'), Type.Literal('off')])

export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('unready'), Type.Literal('draining')], {
    description: 'ready or degraded: send it traffic (degraded: Redis or the change notifications are down, reads go to PostgreSQL); unready or draining: do not'
  }),
  checks: Type.Object({ postgres: Check, migrations: Check, redis: Check, changes: Check }),
  errors: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()), { description: 'what makes it unready' }))
})

export type ReadinessReport = Static<typeof Readiness>
export type CheckState = Static<typeof Check>
