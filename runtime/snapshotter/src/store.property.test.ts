/**
 * Property test of the snapshotter's trust boundary (containerd's requests): random operation
 * sequences with hostile keys and labels. Every call succeeds or fails with a SNAP_ code; the
 * state on disk always equals the state in memory; nothing is written outside the root; every
 * directory belongs to a live active/view snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { isKccError } from '@kata-cc/errors';
import { LABEL_SNAPSHOT_REF, SnapshotStore } from './store.js';
import { SNAPSHOTTER_ERROR_CODES } from './codes.js';

const key = fc.oneof(
  fc.constantFrom('a', 'b', 'c', 'sha256:l1', 'sha256:l2', '', '../../etc', '/abs', 'x\0y', 'k8s.io/1/ctr', '.', '..'),
  fc.string({ maxLength: 12 }),
  fc.constant('z'.repeat(5000)),
);
const labels = fc.dictionary(fc.oneof(fc.constant(LABEL_SNAPSHOT_REF), fc.string({ maxLength: 8 })), fc.oneof(key, fc.string({ maxLength: 8 })), { maxKeys: 3 });
const op = fc.oneof(
  fc.record({ t: fc.constant('prepare' as const), key, parent: key, labels, ro: fc.boolean() }),
  fc.record({ t: fc.constant('commit' as const), name: key, key, labels }),
  fc.record({ t: fc.constant('remove' as const), key }),
  fc.record({ t: fc.constant('mounts' as const), key }),
  fc.record({ t: fc.constant('stat' as const), key }),
  fc.record({ t: fc.constant('usage' as const), key }),
  fc.record({ t: fc.constant('update' as const), key, labels, paths: fc.array(fc.oneof(fc.constant('labels'), fc.string({ maxLength: 10 }).map((s) => `labels.${s}`), fc.string({ maxLength: 6 })), { maxLength: 2 }) }),
);

test('random containerd request sequences: SNAP_ codes only, disk == memory, nothing outside the root (fast-check)', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'kcc-snap-prop-'));
  let runs = 0;
  let calls = 0;
  try {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        runs++;
        const root = path.join(base, String(runs), 'root');
        const s = new SnapshotStore(root);
        for (const o of ops) {
          calls++;
          try {
            switch (o.t) {
              case 'prepare': {
                const m = s.prepare(o.key, o.parent, o.labels, o.ro);
                for (const x of m) assert.ok(x.source.startsWith(`${path.join(root, 'snapshots')}${path.sep}`), 'mount source inside the root');
                break;
              }
              case 'commit': s.commit(o.name, o.key, o.labels); break;
              case 'remove': s.remove(o.key); break;
              case 'mounts': s.mounts(o.key); break;
              case 'stat': s.stat(o.key); break;
              case 'usage': s.usage(o.key); break;
              case 'update': s.update({ name: o.key, labels: o.labels }, o.paths); break;
            }
          } catch (e) {
            assert.ok(isKccError(e), `only KccErrors: ${String(e)}`);
            assert.ok((SNAPSHOTTER_ERROR_CODES as readonly string[]).includes(e.code), e.code);
          }
        }
        // nothing outside the root; directories = live active/view snapshots
        assert.deepEqual(readdirSync(path.join(base, String(runs))), ['root']);
        for (const f of readdirSync(root)) assert.ok(f === 'metadata.json' || f === 'snapshots', f);
        const live = s.list().filter((i) => i.kind !== 'COMMITTED').length;
        assert.equal(readdirSync(path.join(root, 'snapshots')).length, live);
        // a restart sees exactly the same snapshots
        assert.deepEqual(new SnapshotStore(root).list(), s.list());
        rmSync(path.join(base, String(runs)), { recursive: true, force: true });
      }),
      { numRuns: 1000, interruptAfterTimeLimit: 20_000 },
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  process.stderr.write(`snapshotter property: ${runs} sequences, ${calls} calls\n`);
  assert.ok(runs >= 50);
});
