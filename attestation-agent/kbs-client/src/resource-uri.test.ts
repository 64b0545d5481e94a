import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '@kata-cc/errors';
import { formatResourceUri, parseResourceUri, resourceApiPath } from './resource-uri.js';

test('parseResourceUri() accepts the guest-components forms', () => {
  const cases: Array<[string, string]> = [
    ['kbs:///default/key/1', '/kbs/v0/resource/default/key/1'],
    ['kbs://kbs.example:8080/default/key/1', '/kbs/v0/resource/default/key/1'],
    ['kbs+resource:///a/b/c.d', '/kbs/v0/resource/a/b/c.d'],
    ['kbs+pkcs11:///x/y?q=1', '/kbs/v0/pkcs11/x/y?q=1'],
    ['kbs:///kbs:///default/key/1', '/kbs/v0/resource/default/key/1'],
    ['default/key/1', '/kbs/v0/resource/default/key/1'],
  ];
  for (const [uri, path] of cases) assert.equal(resourceApiPath(parseResourceUri(uri)), path, uri);
  assert.equal(formatResourceUri(parseResourceUri('kbs+resource://h/a/b/c')), 'kbs:///a/b/c');
});

test('parseResourceUri() rejects traversal, empty and encoded segments', () => {
  for (const bad of ['kbs:///a/../c', 'kbs:///a//c', 'kbs:///a/b', 'kbs:///a/b/c/d', 'kbs:///a/%2F/c', 'kbs:///.a/b/c', 'https://a/b/c/d', '', 'kbs+UP:///a']) {
    assert.throws(() => parseResourceUri(bad), (e) => hasCode(e, 'KBC_INVALID_RESOURCE_URI'), bad);
  }
});
