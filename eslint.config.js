import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist', 'client/dist', 'dist-bench', '.data', '.tap', 'coverage', 'bench/results'] })
]
