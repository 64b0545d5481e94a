/** Small builtin groups: units, semver, uuid, opa.runtime, trace. */
import type { Table } from './types-api.js';
import { b } from './types-api.js';

export const MISC: Table = {
  trace: b(1, () => true),
};
