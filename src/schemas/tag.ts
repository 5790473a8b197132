import { Type } from 'typebox'
import { TAGS } from './examples.js'

export const TagsResponse = Type.Object({ tags: Type.Array(Type.String()) }, { examples: [TAGS] })
