import t from 'tap'
import { parseChangeEvent } from '../../src/db/change-events.js'
import { formatLsn, isLsn, parseLsn, recordEnd } from '../../src/db/lsn.js'

t.test('WAL positions as text and numbers', async t => {
  t.equal(parseLsn('0/0'), 0n)
  t.equal(parseLsn('16/B374D848'), (0x16n << 32n) + 0xB374D848n)
  t.equal(parseLsn('0/1a2b'), 0x1A2Bn, 'lower case')
  t.equal(formatLsn(parseLsn('16/B374D848')), '16/B374D848', 'round trip')
  t.ok(parseLsn('1/0') > parseLsn('0/FFFFFFFF'), 'ordered as numbers')
  for (const bad of ['', '0', '0/', '/1', 'x/1', '123456789/0', '0/0/0']) {
    t.notOk(isLsn(bad), `not a position: ${JSON.stringify(bad)}`)
    t.throws(() => parseLsn(bad), { message: /not a WAL position/ })
  }
  t.notOk(isLsn(7), 'not a string')
})

t.test('recordEnd: an insert position just past a page header is the page boundary', async t => {
  const page = 8192n
  t.equal(recordEnd(3n * page + 24n, 8192), 3n * page, 'after a short header')
  t.equal(recordEnd(4n * page + 40n, 8192), 4n * page, 'after a long header')
  t.equal(recordEnd(3n * page + 32n, 8192), 3n * page, 'a record that crossed the boundary, ending within 40 bytes of it')
  t.equal(recordEnd(3n * page, 8192), 3n * page, 'at a boundary: unchanged')
  t.equal(recordEnd(3n * page + 48n, 8192), 3n * page + 48n, 'further in: unchanged')
  t.equal(recordEnd(5n * 16384n + 24n, 16384), 5n * 16384n, 'pages of another size')
  t.equal(recordEnd(8192n + 24n, 16384), 8192n + 24n, 'not a boundary with larger pages: unchanged')
})

t.test('change payloads carry their WAL position and whether the commit was asynchronous', async t => {
  t.same(parseChangeEvent('{"t":"tags","op":"INSERT","at":1,"lsn":"0/16B3748","async":true,"ids":[1],"names":["a"]}'),
    { table: 'tags', op: 'INSERT', all: false, at: 1, lsn: '0/16B3748', async: true, ids: [1], names: ['a'] })
  t.same(parseChangeEvent('{"t":"tags","op":"TRUNCATE","lsn":"0/16B3748","all":true}'),
    { table: 'tags', op: 'TRUNCATE', all: true, lsn: '0/16B3748' })
  t.same(parseChangeEvent('{"t":"tags","op":"TRUNCATE","lsn":"nonsense","async":"yes","all":true}'),
    { table: 'tags', op: 'TRUNCATE', all: true }, 'members that are not what they should be are ignored')
})
