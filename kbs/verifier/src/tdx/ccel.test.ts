import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sharedDir } from '@kata-cc/testing';
import { eventClaims, parseCcel, replayRtmrs } from './ccel.js';

const T = (f: string): string => sharedDir('vectors', 'trustee/deps/eventlog/test_data', f);

test('uefi_event_logs equal trustee eventlog outputs for 5 CCELs (all 184 events, device paths included)', () => {
  let compared = 0;
  for (const name of ['CCEL_data', 'CCEL_data_ovmf', 'CCEL_data_grub', 'CCEL_data_grub_gke', 'CCEL_AAEL_alibabacloud']) {
    const out = JSON.parse(readFileSync(T(`${name}_out.json`), 'utf8')) as { uefi_event_logs?: Record<string, unknown>[] } | Record<string, unknown>[];
    const expected = Array.isArray(out) ? out : out.uefi_event_logs!;
    const mine = eventClaims(parseCcel(new Uint8Array(readFileSync(T(name)))));
    assert.equal(mine.length, expected.length, name);
    expected.forEach((e, i) => {
      assert.deepEqual(mine[i], e, `${name}[${i}]`);
      compared++;
    });
  }
  assert.equal(compared, 184);
});

test('CCEL replay: a flipped digest changes the replayed RTMR', () => {
  const log = new Uint8Array(readFileSync(sharedDir('vectors', 'go-tdx-guest/testing/testdata/ccel/ccel_data.dat')));
  const before = replayRtmrs(parseCcel(log));
  const events = parseCcel(log);
  const i = events.findIndex((e) => e.index === 2);
  const e = events[i]!;
  const d = e.digests[0]!;
  const flipped = [...events];
  flipped[i] = { ...e, digests: [{ alg: d.alg, digest: `${d.digest[0] === '0' ? '1' : '0'}${d.digest.slice(1)}` }] };
  const after = replayRtmrs(flipped);
  assert.notDeepEqual(Buffer.from(after[1]!), Buffer.from(before[1]!));
  assert.deepEqual(Buffer.from(after[0]!), Buffer.from(before[0]!));
});

test('ccel claims: td-shim kernel digest and kernel parameters (trustee claims.rs example), TDVF kernel/cmdline/initrd', async () => {
  const { ccelClaims } = await import('./ccel.js');
  const shim = ccelClaims(parseCcel(new Uint8Array(readFileSync(T('CCEL_data')))));
  assert.deepEqual(shim, {
    kernel: '5b7aa6572f649714ff00b6a2b9170516a068fd1a0ba72aa8de27574131d454e6396d3bfa1727d9baf421618a942977fa',
    kernel_parameters: { console: 'hvc0', root: '/dev/vda1', rw: null },
  });
  const tdvf = ccelClaims(parseCcel(new Uint8Array(readFileSync(T('CCEL_data_ovmf')))));
  assert.deepEqual(Object.keys(tdvf).sort(), ['cmdline', 'initrd', 'kernel']);
  assert.match(tdvf['kernel'] as string, /^[0-9a-f]{96}$/);
});
