import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SampleAttester } from '@kata-cc/attester';
import { hasCode } from '@kata-cc/errors';
import { tempDir } from '@kata-cc/testing';
import { EventLog, aaelPlaintext, decodeAaelLog, encodeAaelEntry } from './eventlog.js';

test('encodeAaelEntry() digests the tagged event like guest-components (its test vectors)', () => {
  // guest-components attestation-agent/src/eventlog/mod.rs test_event_digest: "domain operation content".
  const vectors = {
    sha256: '46df8dacf00a07d34a83cdf56d7978697790787cf2ba1432ef7c38f22cd96351',
    sha384: 'dad5f0e226318ffa9839b75a472c6aa7fdb5834949d0a0a22990cf04d5692440fb00f3aa0609db7e49cd8d793f670d02',
    sha512: 'b708d222ca8bd44dfe6ba0c4ca2cbb72379276fba8091025217064be45a813e5d6124ccf073219edb617d1faf007d55061465bdf34b7437dbdc9a7405bd4e9c0',
  } as const;
  for (const [alg, hex] of Object.entries(vectors) as Array<[keyof typeof vectors, string]>) {
    assert.equal(encodeAaelEntry('domain operation content', 4, alg).digest.toString('hex'), hex, alg);
  }
  // Layout of a SHA-384 entry (offsets from guest-components tcg2.rs tests): tag at 66, text length at 70.
  const { entry } = encodeAaelEntry('domain operation two', 4, 'sha384');
  assert.equal(entry.readUInt32LE(0), 4);
  assert.equal(entry.readUInt32LE(4), 6);
  assert.equal(entry.readUInt32LE(66), 0x4141454c);
  assert.equal(entry.readUInt32LE(70), 'domain operation two'.length);
});

test('aaelPlaintext() refuses spaces in domain/operation and newlines in content', () => {
  assert.equal(aaelPlaintext({ domain: 'github.com/confidential-containers', operation: 'PullImage', content: '{"image":"a b"}' }), 'github.com/confidential-containers PullImage {"image":"a b"}');
  for (const bad of [{ domain: 'a b', operation: 'o', content: 'c' }, { domain: 'd', operation: '', content: 'c' }, { domain: 'd', operation: 'o', content: 'c\nd o c' }]) {
    assert.throws(() => aaelPlaintext(bad), (e) => hasCode(e, 'AA_INVALID_EVENT'));
  }
});

test('EventLog.extend() appends entries and extends the register; reopening recovers an interrupted append', async (t) => {
  const { dir, cleanup } = await tempDir('aael-');
  t.after(cleanup);
  const rm = new SampleAttester().runtimeMeasurement;
  const log = await EventLog.open(dir, rm, 17);
  await log.extend({ domain: 'd', operation: 'o', content: 'one' });
  await log.extend({ domain: 'd', operation: 'o', content: 'two' }, 16);
  await log.close();
  assert.deepEqual(decodeAaelLog(await readFile(path.join(dir, 'eventlog'))), ['d o one', 'd o two']);
  const d1 = encodeAaelEntry('d o one', 17, 'sha384').digest;
  assert.deepEqual(Buffer.from(await rm.read(17)), createHash('sha384').update(Buffer.alloc(48)).update(d1).digest());

  // Simulate a crash after the write-ahead record and before the register extension.
  const expected = createHash('sha384').update(Buffer.from(await rm.read(17))).update(encodeAaelEntry('d o three', 17, 'sha384').digest).digest();
  const size = (await readFile(path.join(dir, 'eventlog'))).length;
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(size), 0);
  head.writeUInt32LE(17, 8);
  await writeFile(path.join(dir, '.wal_event_entry'), Buffer.concat([head, expected, Buffer.from('d o three')]));
  const again = await EventLog.open(dir, rm, 17);
  await again.close();
  assert.deepEqual(decodeAaelLog(await readFile(path.join(dir, 'eventlog'))), ['d o one', 'd o two', 'd o three']);
  assert.deepEqual(Buffer.from(await rm.read(17)), expected);
});
