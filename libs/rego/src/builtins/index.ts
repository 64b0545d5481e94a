/**
 * The builtin registry. Each group file exports a table of name -> Builtin; this file
 * merges them. An unknown name is a compile error (see resolve.ts).
 */
import { AGGREGATES } from './aggregates.js';
import { COLLECTIONS } from './collections.js';
import { ENCODING } from './encoding.js';
import { NUMBERS } from './numbers.js';
import { OPS } from './ops.js';
import { REGEX } from './regex.js';
import { STRINGS } from './strings.js';
import { TIME } from './time.js';
import { TYPES } from './types.js';
import { MISC } from './misc.js';
import { NET } from './net.js';
import { NET_SETS } from './net-sets.js';
import { EXTRAS } from './extras.js';
import { JWT } from './jwt.js';
import { X509 } from './x509.js';
import type { Builtin } from './types-api.js';
import { guarded } from './types-api.js';

export { BuiltinError } from './types-api.js';
export type { Builtin, BuiltinCtx } from './types-api.js';

export const BUILTINS = new Map<string, Builtin>();
for (const table of [OPS, NUMBERS, AGGREGATES, COLLECTIONS, STRINGS, REGEX, ENCODING, TYPES, TIME, MISC, NET, NET_SETS, EXTRAS, guarded(JWT), guarded(X509)]) {
  for (const [name, b] of Object.entries(table)) BUILTINS.set(name, b);
}
