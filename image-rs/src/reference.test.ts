import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '@kata-cc/errors';
import { formatReference, parseReference } from './reference.js';

test('parseReference() normalizes like containers/image', () => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['quay.io/ns/app', 'quay.io/ns/app:latest'],
    ['127.0.0.1:5000/peers/bb:latest', '127.0.0.1:5000/peers/bb:latest'],
    ['localhost/app:v1', 'localhost/app:v1'],
    [`r.io/a@sha256:${'b'.repeat(64)}`, `r.io/a@sha256:${'b'.repeat(64)}`],
    ['user/app', 'docker.io/user/app:latest'],
  ];
  for (const [input, want] of cases) assert.equal(formatReference(parseReference(input)), want, input);
});

test('parseReference() rejects malformed references with IMG_REFERENCE_INVALID', () => {
  for (const bad of ['', 'UPPER/case', 'a:b:c', 'r.io/a@sha256:short', 'a/../b', 'r.io/a:tag with space']) {
    assert.throws(() => parseReference(bad), (e) => hasCode(e, 'IMG_REFERENCE_INVALID'), bad);
  }
});
