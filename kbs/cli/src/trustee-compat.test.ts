import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromTrusteeSyntax } from './trustee-compat.js';

test('fromTrusteeSyntax() maps trustee kbs-client command lines to kbs-cli', () => {
  const cases: Array<[string, string]> = [
    ['--url http://k:8080 config --auth-private-key k.pem set-resource --path a/b/c --resource-file f', '--url http://k:8080 --admin-key k.pem set-resource --path a/b/c --file f'],
    ['--url http://k --cert-file ca.pem config --admin-token-file t set-resource-policy --policy-file p.rego', '--url http://k --cacert ca.pem --admin-token-file t set-resource-policy --file p.rego'],
    ['config --auth-private-key=k.pem set-attestation-policy --policy-file=p --id default_cpu', '--admin-key=k.pem set-attestation-policy --file=p --id default_cpu'],
    ['--url u config --auth-private-key k set-sample-reference-value svn 1 --as-integer', '--url u --admin-key k set-reference-value svn 1 --as-integer'],
    ['--url u get-resource --path a/b/c', '--url u get-resource --path a/b/c'],
    ['--url u config --auth-private-key k get-reference-value --id svn', '--url u --admin-key k get-reference-value --id svn'],
    // A file that happens to be called "config" is not trustee's config group.
    ['--url u --admin-key k set-resource --path a/b/c --file config', '--url u --admin-key k set-resource --path a/b/c --file config'],
    ['--url config get-resource --path a/b/c', '--url config get-resource --path a/b/c'],
  ];
  for (const [trustee, ours] of cases) assert.deepEqual(fromTrusteeSyntax(trustee.split(' ')), ours.split(' '), trustee);
});
