/** Type predicates and type_name. */
import type { Value } from '../value.js';
import { RObject, RSet, typeName } from '../value.js';
import { b } from './types-api.js';
import type { Table } from './types-api.js';

const is = (p: (v: Value) => boolean) => b(1, (a) => p(a[0] as Value));

export const TYPES: Table = {
  is_number: is((v) => typeof v === 'number' || typeof v === 'bigint'),
  is_string: is((v) => typeof v === 'string'),
  is_boolean: is((v) => typeof v === 'boolean'),
  is_array: is((v) => Array.isArray(v)),
  is_set: is((v) => v instanceof RSet),
  is_object: is((v) => v instanceof RObject),
  is_null: is((v) => v === null),
  type_name: b(1, (a) => typeName(a[0] as Value)),
};
