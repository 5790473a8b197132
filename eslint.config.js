import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist', '.data', '.tap', 'coverage', 'bench/results'] })
]
