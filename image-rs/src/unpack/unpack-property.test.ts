import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { isKccError } from '@kata-cc/errors';
import { buildTar, sha256, tempDir, type TarSpec } from '@kata-cc/testing';
import { applyLayer } from './layer.js';

// Property: whatever mix of names, links and types a layer has, nothing outside the root is
// created or changed, and every refusal is a KccError with an IMG_ code.
const tmp = await tempDir('img-prop-');
after(() => tmp.cleanup());
const outside = path.join(tmp.dir, 'outside');
mkdirSync(outside);
writeFileSync(path.join(outside, 'sentinel'), 'untouched');

const comp = fc.constantFrom('a', 'b', 'c', '..', '.', 'etc', 'link', '.wh.a', '.wh..wh..opq', '');
const relPath = fc.array(comp, { minLength: 1, maxLength: 4 }).map((c) => c.join('/'));
const target = fc.oneof(relPath, fc.constant(outside), fc.constant(`${outside}/sentinel`), fc.constant('../outside'), fc.constant('../../outside/sentinel'), fc.constant('/'));
const entry = fc.record({
  path: relPath,
  type: fc.constantFrom('file', 'dir', 'symlink', 'hardlink') as fc.Arbitrary<'file' | 'dir' | 'symlink' | 'hardlink'>,
  linkpath: target,
  data: fc.constantFrom('x', 'pwned'),
});
const toSpec = (e: { path: string; type: 'file' | 'dir' | 'symlink' | 'hardlink'; linkpath: string; data: string }): TarSpec =>
  e.type === 'file' ? { path: e.path, type: 'file', data: e.data } : e.type === 'dir' ? { path: e.path, type: 'dir' } : { path: e.path, type: e.type, linkpath: e.linkpath };

test('applyLayer() never writes outside the root, whatever the entries (property)', async () => {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 8 }), async (entries) => {
      const root = path.join(tmp.dir, 'roots', String(run++));
      mkdirSync(root, { recursive: true });
      const tar = buildTar(entries.map(toSpec));
      try {
        await applyLayer(Readable.from([tar]), root, { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(tar), size: tar.length, diffId: sha256(tar) });
      } catch (err) {
        assert.ok(isKccError(err) && err.code.startsWith('IMG_'), `non-IMG error: ${String(err)}`);
      }
      assert.deepEqual(readdirSync(outside), ['sentinel']);
      assert.equal(readFileSync(path.join(outside, 'sentinel'), 'utf8'), 'untouched');
      assert.deepEqual(readdirSync(tmp.dir).sort(), ['outside', 'roots']);
      rmSync(root, { recursive: true, force: true });
    }),
    { numRuns: 150 },
  );
});
