import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packageErrorCodes } from '@kata-cc/testing';

const { thrown: codes, readme } = packageErrorCodes(import.meta.url, 'VERIFIER');

/**
 * Codes the README names, with its two shorthands expanded: `A_{X,Y}_B` (alternatives) and
 * `FULL_CODE` / `_SUFFIX` (the suffix replaces the last one to three segments of the code before it).
 */
function documented(): Set<string> {
  const out = new Set<string>();
  for (const line of readme.split('\n')) {
    let last: string[] = [];
    for (const m of line.matchAll(/`(_?[A-Z0-9_{},]+)`/g)) {
      const tok = m[1]!;
      if (tok.startsWith('_')) {
        for (const base of last) {
          const segs = base.split('_');
          for (let k = 1; k <= 3 && k < segs.length; k++) out.add(`${segs.slice(0, -k).join('_')}${tok}`);
        }
        continue;
      }
      const brace = /\{([A-Z0-9,]+)\}/.exec(tok);
      last = brace ? brace[1]!.split(',').map((alt) => tok.replace(brace[0], alt)) : [tok];
      for (const c of last) out.add(c);
    }
  }
  return out;
}

test('every VERIFIER_ code thrown by this package is in the README', () => {
  assert.ok(codes.has('VERIFIER_SNP_CRL_SIGNATURE'));
  const docs = documented();
  // A literal that only prefixes documented codes (`${prefix}_QUOTE_SIGNATURE`) is not a code itself.
  const missing = [...codes].filter((c) => !docs.has(c) && ![...docs].some((d) => d.startsWith(`${c}_`)));
  assert.deepEqual(missing.sort(), []);
});
