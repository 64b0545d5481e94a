import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { hasCode } from '@kata-cc/errors';
import { Redacted } from '@kata-cc/log';
import { buildTar, tempDir } from '@kata-cc/testing';
import { applyLayer } from './layer.js';

// Which stream the ocicrypt key options `digest` may name: the decrypted blob, or (skopeo
// compressing + encrypting in one copy) the uncompressed tar, which must then equal diff_id.
const tmp = await tempDir('img-enclayer-');
after(() => tmp.cleanup());
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const tar = buildTar([{ path: 'a.txt', data: 'hello' }]);
const gz = gzipSync(tar);
const symkey = randomBytes(32);
const nonce = randomBytes(16);
const c = createCipheriv('aes-256-ctr', symkey, nonce);
const cipher = Buffer.concat([c.update(gz), c.final()]);
const hmac = createHmac('sha256', symkey).update(cipher).digest();
const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted', digest: sha(cipher), size: cipher.length, diffId: sha(tar) };
let n = 0;
function apply(digest: string, diffId = layer.diffId): Promise<unknown> {
  const root = path.join(tmp.dir, `r${n++}`);
  mkdirSync(root);
  return applyLayer(Readable.from([cipher]), root, { ...layer, diffId }, { key: { symkey: new Redacted(symkey), nonce, digest, hmac } });
}

test('applyLayer() accepts key options digest = the decrypted (gzip) blob', async () => {
  await apply(sha(gz));
});

test('applyLayer() accepts key options digest = the uncompressed tar when it is the diff_id (skopeo compress+encrypt)', async () => {
  await apply(sha(tar));
  assert.equal(readFileSync(path.join(tmp.dir, `r${n - 1}`, 'a.txt'), 'utf8'), 'hello');
});

test('applyLayer() refuses key options digest matching neither stream (IMG_DIGEST_MISMATCH)', async () => {
  await assert.rejects(apply(sha(Buffer.from('other'))), (e) => hasCode(e, 'IMG_DIGEST_MISMATCH'));
});

test('applyLayer() with digest = diff_id still refuses content that does not hash to that diff_id (IMG_DIFF_ID_MISMATCH)', async () => {
  const wrong = sha(Buffer.from('forged'));
  await assert.rejects(apply(wrong, wrong), (e) => hasCode(e, 'IMG_DIFF_ID_MISMATCH'));
});
