import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isKccError } from '@kata-cc/errors';
import { parseKbsPath, resourcePath } from './request-path.js';

test('any raw path either is refused or yields safe segments (property)', () => {
  const seg = fc.oneof(fc.string(), fc.constantFrom('..', '.', '%2e%2e', '%2F', '%5c', 'a%00', '%', 'ok', 'a.b', ''));
  fc.assert(
    fc.property(fc.array(seg, { minLength: 1, maxLength: 5 }), (segs) => {
      const raw = `/kbs/v0/resource/${segs.join('/')}`;
      let parsed: ReturnType<typeof parseKbsPath>;
      try {
        parsed = parseKbsPath(raw);
      } catch (e) {
        assert.ok(isKccError(e) && e.code === 'KBS_INVALID_REQUEST_PATH');
        return;
      }
      for (const s of parsed.rest) {
        assert.notEqual(s, '');
        assert.notEqual(s, '.');
        assert.notEqual(s, '..');
        assert.ok(!s.includes('/') && !s.includes('\\') && !s.includes('\0'));
      }
      try {
        const [r, t, g] = resourcePath(parsed.rest);
        for (const s of [r, t, g]) assert.match(s, /^[a-zA-Z0-9_-][a-zA-Z0-9_.-]*$/);
      } catch (e) {
        assert.ok(isKccError(e) && e.code === 'KBS_INVALID_REQUEST_PATH');
      }
    }),
    { numRuns: 2000 },
  );
});

test('query strings are parsed and kept out of the path', () => {
  const p = parseKbsPath('/kbs/v0/resource/a/b/c?x=1&y=%2F');
  assert.deepEqual(p.rest, ['a', 'b', 'c']);
  assert.deepEqual(p.query, { x: '1', y: '/' });
});
