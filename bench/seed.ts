import { parseArgs } from 'node:util'
import { databaseName } from './db.js'
import { seedDatabase } from './seeder.js'

// `npm run seed -- --scale N [--force]`: loads the bench data set into DATABASE_URL (or BENCH_DATABASE_URL).
const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    force: { type: 'boolean', default: false }
  }
})

const scale = Number(values.scale)
if (!Number.isFinite(scale) || scale <= 0 || scale > 100) {
  console.error(`--scale must be a number in (0, 100], got ${values.scale}`)
  process.exit(2)
}
const url = process.env.DATABASE_URL || process.env.BENCH_DATABASE_URL
if (url === undefined || url === '') {
  console.error('set DATABASE_URL (or BENCH_DATABASE_URL) to the database to seed')
  process.exit(2)
}

try {
  console.log(`seeding ${databaseName(url)} at scale ${scale}`)
  const result = await seedDatabase(url, { scale, force: values.force, log: line => console.log(`  ${line}`) })
  console.log(`seeded in ${(result.totalMs / 1000).toFixed(1)} s`)
} catch (err) {
  console.error(`seed failed: ${(err as Error).message}`)
  process.exit(1)
}
