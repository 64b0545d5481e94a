import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hasCode } from '@kata-cc/errors';
import { extractPolicyData, parseInitData } from './init-data.js';

// A genpolicy-shaped agent policy: rules first, `policy_data := {json}` last.
const POLICY = `package agent_policy

import future.keywords.in

default CreateContainerRequest := false

CreateContainerRequest if {
  input.OCI.Annotations["io.kubernetes.cri.image-name"] in [c.OCI.Annotations["io.kubernetes.cri.image-name"] | c := policy_data.containers[_]]
}

policy_data := {
  "containers": [
    {"OCI": {"Annotations": {"io.kubernetes.cri.image-name": "quay.io/x/app:1"}, "Process": {"User": {"UID": 1000}}}}
  ],
  "common": {"cpath": "/run/kata-containers/shared/containers"}
}
`;

const initdata = (data: string, head = 'version = "0.1.0"\nalgorithm = "sha384"\n'): string => `${head}[data]\n${data}`;

test('policy.rego with policy_data becomes agent_policy_claims and the rego is removed (trustee parse_init_data)', () => {
  const body = initdata(`"policy.rego" = '''\n${POLICY}'''\n"aa.toml" = '''\n[token_configs.kbs]\nurl = "http://kbs"\n'''\n"note" = "n"\n`);
  const p = parseInitData({ format: 'toml', body });
  assert.equal(p.claims['policy.rego'], undefined);
  assert.deepEqual(p.claims['agent_policy_claims'], {
    containers: [{ OCI: { Annotations: { 'io.kubernetes.cri.image-name': 'quay.io/x/app:1' }, Process: { User: { UID: 1000 } } } }],
    common: { cpath: '/run/kata-containers/shared/containers' },
  });
  assert.deepEqual(p.claims['aa.toml'], { token_configs: { kbs: { url: 'http://kbs' } } });
  assert.equal(p.claims['note'], 'n');
  assert.deepEqual(Buffer.from(p.hash), createHash('sha384').update(body).digest(), 'digest over the body as sent');
});

test('policy.rego without a parseable policy_data stays as the rego string', () => {
  for (const rego of ['package agent_policy\ndefault AllowRequestsFailingPolicy := true\n', `${POLICY}\n# trailing rule\nx := 1\n`, 'policy_data := {"a": }']) {
    const p = parseInitData({ format: 'toml', body: initdata(`"policy.rego" = '''\n${rego}'''\n`) });
    assert.equal(p.claims['agent_policy_claims'], undefined);
    assert.equal(p.claims['policy.rego'], `${rego}`);
  }
  assert.deepEqual(extractPolicyData('policy_data := {"a": 1}\n\n'), { a: 1 });
  assert.deepEqual(extractPolicyData('x\npolicy_data := {"a": [1, "b"]}  \n'), { a: [1, 'b'] });
});

test('aa.toml / cdh.toml that are not TOML stay strings (trustee ignores the parse error)', () => {
  const p = parseInitData({ format: 'toml', body: initdata(`"cdh.toml" = "not = = toml"\n`) });
  assert.equal(p.claims['cdh.toml'], 'not = = toml');
});

test('Initdata fields are required as trustee deserializes them: version, algorithm, [data] of strings', () => {
  const bad = (body: string): void => assert.throws(() => parseInitData({ format: 'toml', body }), (e) => hasCode(e, 'AS_INIT_DATA_INVALID'), body);
  bad('algorithm = "sha384"\n[data]\n');
  bad('version = "0.1.0"\n[data]\n');
  bad('version = "0.1.0"\nalgorithm = "md5"\n[data]\n');
  bad('version = "0.1.0"\nalgorithm = "sha384"\n');
  bad('version = "0.1.0"\nalgorithm = "sha384"\n[data]\nx = 1\n');
  bad('version = 1\nalgorithm = "sha384"\n[data]\n');
  assert.deepEqual(parseInitData({ format: 'toml', body: 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n' }).claims, {});
});

test('default policy: agent_policy_claims give trustee\'s ear.trustee.identifiers extension in the EAR submod (sample TEE, dev mode)', async () => {
  const { AttestationService, TokenSigner } = await import('./index.js');
  const { expectedReportData, b64Encode } = await import('@kata-cc/kbs-types');
  const { generateKeyPairSync } = await import('node:crypto');
  const policies = new Map<string, string>();
  const as = new AttestationService({
    store: { getPolicy: async (_k, id) => policies.get(id), putPolicy: async (_k, id, b) => void policies.set(id, b), listReferenceValues: async () => ({}) },
    signer: new TokenSigner(TokenSigner.generatePem()),
    devMode: true,
  });
  const j = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const k = { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: String(j.x), y: String(j.y) } as const;
  const run = async (body: string): Promise<Record<string, unknown>> => {
    const rd = expectedReportData('n', k, '', 'sha384');
    const { claims } = await as.attest({ tee: 'sample', nonce: 'n', attestation: { 'init-data': { format: 'toml', body }, 'runtime-data': { nonce: 'n', 'tee-pubkey': k }, 'tee-evidence': { primary_evidence: { svn: '1', report_data: b64Encode(rd) }, additional_evidence: '' } } });
    return (claims['submods'] as Record<string, Record<string, unknown>>)['cpu0']!;
  };
  const cpu0 = await run(initdata(`"policy.rego" = '''\n${POLICY}'''\n`));
  assert.deepEqual(cpu0['ear.trustee.identifiers'], { validated: { container_images: ['quay.io/x/app:1'], container_uids: [1000] } });
  assert.equal(cpu0['ear.status'], 'affirming');
  assert.deepEqual((await run(initdata(''))) ['ear.trustee.identifiers'], { validated: {} });
  // A custom policy with malformed extensions is refused with its code.
  await as.setPolicy('default_cpu', 'package policy\nimport rego.v1\ntrust_claims := {"executables": 3}\nextensions := {"not": "an array"}\n');
  await assert.rejects(run(initdata('')), (e: { code?: string }) => e.code === 'AS_POLICY_EXTENSIONS_INVALID');
});
