// Which driver errors are a 503 (the database, not the request) and which drop the connection.
import t from 'tap'
import { connectionFailure, DatabaseUnavailable, fromPostgres } from '../src/errors.js'

t.test('PostgreSQL unavailable, too slow or out of resources: 503', async t => {
  const unavailable = [
    { code: '53300', message: 'sorry, too many clients already' },
    { code: '53200', message: 'out of memory' },
    { code: '53100', message: 'could not extend file: No space left on device' },
    { code: '57P01', message: 'terminating connection due to administrator command' },
    { code: '57P02', message: 'terminating connection because of crash of another server process' },
    { code: '57P03', message: 'the database system is starting up' },
    { code: '57014', message: 'canceling statement due to statement timeout' },
    { code: '08006', message: 'connection failure' },
    { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
    { code: 'EHOSTUNREACH', message: 'connect EHOSTUNREACH' },
    { message: 'Query read timeout' },
    { message: 'Connection terminated unexpectedly' },
    { message: 'Connection terminated due to connection timeout' },
    { message: 'timeout exceeded when trying to connect' }
  ]
  for (const err of unavailable) t.ok(fromPostgres(err) instanceof DatabaseUnavailable, `${err.code ?? ''} ${err.message}`)
  t.equal(fromPostgres({ code: '42P01', message: 'relation does not exist' }), undefined, 'a bug stays a 500')
  t.equal(fromPostgres({ code: '23505', message: 'duplicate key' }), undefined)
})

t.test('connection failures: the connection is done for (not so a server-side refusal on a live one)', async t => {
  t.ok(connectionFailure({ message: 'Query read timeout' }))
  t.ok(connectionFailure({ code: 'ECONNRESET', message: 'read ECONNRESET' }))
  t.ok(connectionFailure({ code: '57P01', message: 'terminating connection due to administrator command' }))
  t.notOk(connectionFailure({ code: '57014', message: 'canceling statement due to statement timeout' }), 'statement_timeout: the connection is fine')
  t.notOk(connectionFailure({ code: '53300', message: 'sorry, too many clients already' }), 'too many connections: not an outage')
  t.notOk(connectionFailure({ message: 'timeout exceeded when trying to connect' }), 'a busy pool is judged by the pool')
})
