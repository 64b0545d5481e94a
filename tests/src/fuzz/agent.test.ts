/**
 * Fuzz: the kata agent's untrusted inputs that have a pure entry: initdata (raw disk layout and
 * TOML), and request handling under the agent policy (protobuf bytes decoded with the agent
 * protos, turned into the policy input as the service does, checked by a genpolicy-style Rego
 * policy whose ops write request fields into the policy state).
 * initdata must parse or fail with AGENT_INITDATA_INVALID, and writing it only creates its
 * three files; a policy check either allows or fails with AGENT_POLICY_DENIED/ERROR, and no
 * request may reach Object.prototype through the policy-state patch.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { tempDir } from '@kata-cc/testing';
import { AgentPolicy, codec, decodeInitdataDisk, parseInitdata } from '@kata-cc/kata-agent';
import { parseAaConfig } from '@kata-cc/attestation-agent';
import { parseCdhConfig } from '@kata-cc/cdh';
// Not exported by @kata-cc/kata-agent (the agent calls it after parseInitdata): reached through its dist.
import { writeInitdataFiles } from '../../../guest-components/agent/dist/initdata.js';
import { expectKcc, fuzz, mutate, mutationArb, test } from './budget.js';

const tmp = await tempDir('fuzz-agent-');
after(() => tmp.cleanup());

const VALID_TOML = `version = "0.1.0"
algorithm = "sha384"

[data]
"aa.toml" = '''
[token_configs.kbs]
url = "http://10.0.2.2:8080"
'''
"cdh.toml" = '''
socket = "unix:///run/confidential-containers/cdh.sock"
[kbc]
name = "cc_kbc"
url = "http://10.0.2.2:8080"
'''
"policy.rego" = '''
package agent_policy
default AllowRequestsFailingPolicy := false
'''
`;

function initdataOutcome(toml: Uint8Array): string {
  try {
    parseInitdata(Buffer.from(toml));
    return 'parsed';
  } catch (e) {
    return expectKcc(e, 'AGENT_INITDATA_', 'parseInitdata').code;
  }
}

test('fuzz: initdata TOML (mutated valid document, arbitrary text, deep nesting)', async () => {
  assert.equal(initdataOutcome(Buffer.from(VALID_TOML)), 'parsed');
  const seed = new Uint8Array(Buffer.from(VALID_TOML));
  await fuzz('agent/parseInitdata(mutated)', [mutationArb(seed.length)], (ms) => initdataOutcome(mutate(seed, ms)), { runs: 600, seconds: 2 });
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.constantFrom(5000, 50_000).map((d) => `version = "0.1.0"\nalgorithm = "sha256"\nx = ${'['.repeat(d)}${']'.repeat(d)}\n`),
    fc.constantFrom(5000, 50_000).map((d) => `version = "0.1.0"\nalgorithm = "sha256"\n[data]\n${'a.'.repeat(d)}b = "x"\n`),
    fc.record({ v: fc.jsonValue({ maxDepth: 1 }), a: fc.jsonValue({ maxDepth: 1 }), k: fc.string({ maxLength: 8 }), d: fc.jsonValue({ maxDepth: 1 }) })
      .map(({ v, a, k, d }) => `version = ${JSON.stringify(v) ?? '1'}\nalgorithm = ${JSON.stringify(a) ?? '1'}\n[data]\n${JSON.stringify(k)} = ${JSON.stringify(d) ?? '1'}\n`),
  );
  await fuzz('agent/parseInitdata(text)', [text], (t) => initdataOutcome(new Uint8Array(Buffer.from(t))), { runs: 400, seconds: 3 });
});

test('fuzz: the raw initdata disk layout (magic, u64 length, gzip)', async () => {
  const gz = gzipSync(VALID_TOML);
  const head = Buffer.alloc(16);
  Buffer.from('initdata').copy(head);
  head.writeBigUInt64LE(BigInt(gz.length), 8);
  const disk = new Uint8Array(Buffer.concat([head, gz]));
  await fuzz('agent/decodeInitdataDisk', [fc.oneof(mutationArb(disk.length).map((ms) => mutate(disk, ms)), fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array(Buffer.concat([Buffer.from('initdata'), b]))))], (d) => {
    const b = Buffer.from(d);
    try {
      const toml = decodeInitdataDisk(b.subarray(0, 16), (len) => b.subarray(16, 16 + len));
      return toml === undefined ? 'no-magic' : initdataOutcome(toml);
    } catch (e) {
      return expectKcc(e, 'AGENT_INITDATA_', 'decodeInitdataDisk').code;
    }
  }, { runs: 600, seconds: 2 });
});

test('fuzz: writing parsed initdata creates only its files inside the directory', async () => {
  const key = fc.oneof(fc.constantFrom('aa.toml', 'cdh.toml', 'policy.rego', '../escape', '/etc/passwd', '__proto__', '..', '', 'aa.toml/../../x'), fc.string({ maxLength: 10 }));
  let n = 0;
  await fuzz('agent/writeInitdataFiles', [fc.array(fc.tuple(key, fc.string({ maxLength: 20 })), { maxLength: 5 })], async (entries) => {
    const toml = `version = "0.1.0"\nalgorithm = "sha256"\n[data]\n${entries.map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)}`).join('\n')}\n`;
    let init;
    try {
      init = parseInitdata(Buffer.from(toml));
    } catch (e) {
      return expectKcc(e, 'AGENT_INITDATA_', 'parseInitdata').code; // duplicate keys, control characters
    }
    const base = path.join(tmp.dir, String(n++));
    mkdirSync(base);
    await writeInitdataFiles(init, path.join(base, 'initdata'));
    assert.deepEqual(readdirSync(base), ['initdata']);
    const files = readdirSync(path.join(base, 'initdata'));
    assert.ok(files.every((f) => ['initdata.toml', 'aa.toml', 'cdh.toml'].includes(f)), `unexpected files ${files.join(',')}`);
    rmSync(base, { recursive: true, force: true });
    return `wrote${files.length}`;
  }, { runs: 150, seconds: 2 });
  assert.deepEqual(readdirSync(tmp.dir), []);
});

test('fuzz: aa.toml and cdh.toml carried in initdata (AA and CDH config parsers)', async () => {
  const init = parseInitdata(Buffer.from(VALID_TOML));
  const aa = new Uint8Array(Buffer.from(`${init.data['aa.toml']!}[token_configs.coco_as]\nurl = "http://as"\n[eventlog_config]\neventlog_algorithm = "sha384"\ninit_pcr = 17\nenable_eventlog = false\n`));
  const cdh = new Uint8Array(Buffer.from(`${init.data['cdh.toml']!}[image]\nmax_concurrent_layer_downloads_per_image = 3\nimage_security_policy_uri = "kbs:///default/security-policy/test"\nregistry_configuration_uri = "kbs:///default/registry-configuration/test"\nimage_pull_proxy = { https_proxy = "http://p:3128" }\n[[credentials]]\nresource_uri = "kbs:///default/credential/test"\npath = "/run/confidential-containers/cdh/kms-credential/aliyun/ecsRamRole.json"\n`));
  parseAaConfig(Buffer.from(aa).toString());
  parseCdhConfig(Buffer.from(cdh).toString());
  const outcome = (prefix: string, f: () => unknown): string => {
    try {
      f();
      return 'parsed';
    } catch (e) {
      return expectKcc(e, prefix, prefix).code;
    }
  };
  await fuzz('aa/parseAaConfig(mutated)', [mutationArb(aa.length)], (ms) => outcome('AA_', () => parseAaConfig(Buffer.from(mutate(aa, ms)).toString())), { runs: 500, seconds: 2 });
  await fuzz('cdh/parseCdhConfig(mutated)', [mutationArb(cdh.length)], (ms) => outcome('CDH_', () => parseCdhConfig(Buffer.from(mutate(cdh, ms)).toString())), { runs: 500, seconds: 2 });
});

// ---- agent policy on decoded requests ----

const POLICY = `package agent_policy
import future.keywords.in

default CreateContainerRequest := false
CreateContainerRequest := {"allowed": true, "ops": [{"op": "add", "path": sprintf("/pstate/containers/%s/id", [input.container_id]), "value": input.container_id}]} {
  input.OCI.Version == "1.1.0"
  not contains(input.container_id, "/")
}

default ExecProcessRequest := false
ExecProcessRequest {
  input.container_id in object.keys(object.get(data.pstate, "containers", {}))
}

default CopyFileRequest := false
CopyFileRequest {
  startswith(input.path, "/run/kata-containers/shared/")
  not contains(input.path, "..")
}
`;
const MESSAGES = ['CreateContainerRequest', 'ExecProcessRequest', 'CopyFileRequest'] as const;
const codecs = { CreateContainerRequest: codec('grpc.CreateContainerRequest'), ExecProcessRequest: codec('grpc.ExecProcessRequest'), CopyFileRequest: codec('grpc.CopyFileRequest') };
const seeds = {
  CreateContainerRequest: codecs.CreateContainerRequest.encode({ container_id: 'c1', exec_id: 'c1', OCI: { Version: '1.1.0', Hostname: 'h', Process: { Args: ['/bin/sh'] } } }),
  ExecProcessRequest: codecs.ExecProcessRequest.encode({ container_id: 'c1', exec_id: 'e1', process: { Args: ['/bin/true'] } }),
  CopyFileRequest: codecs.CopyFileRequest.encode({ path: '/run/kata-containers/shared/x', file_size: 1, data: Buffer.from('x') }),
};

/** What service.ts does to a decoded request before the policy sees it. */
function policyInput(req: unknown): unknown {
  return JSON.parse(JSON.stringify(req, (_k, v: unknown) => {
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return (v as { data: number[] }).data;
    return v;
  }));
}

function prototypeClean(): void {
  const probe = {} as Record<string, unknown>;
  assert.equal(probe['id'], undefined, 'Object.prototype.id was set through the policy state');
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).filter((k) => !['constructor', '__defineGetter__', '__defineSetter__', 'hasOwnProperty', '__lookupGetter__', '__lookupSetter__', 'isPrototypeOf', 'propertyIsEnumerable', 'toString', 'valueOf', '__proto__', 'toLocaleString'].includes(k)), []);
}

function checkOutcome(p: AgentPolicy, message: string, input: unknown): string {
  try {
    p.check(message, message.replace(/Request$/, ''), input);
    return 'allowed';
  } catch (e) {
    return expectKcc(e, /^AGENT_POLICY_(DENIED|ERROR)$/, `policy ${message}`).code;
  }
}

test('fuzz: agent policy on decoded (mutated) protobuf requests and hostile ids', async () => {
  const p = new AgentPolicy({ origin: 'fuzz', text: POLICY });
  assert.equal(checkOutcome(p, 'CreateContainerRequest', policyInput(codecs.CreateContainerRequest.decode(seeds.CreateContainerRequest))), 'allowed');
  await fuzz('agent/policy(mutated protobuf)', [fc.oneof(...MESSAGES.map((m) => fc.tuple(fc.constant(m), mutationArb(seeds[m].length))))], ([m, ms]) => {
    let req: unknown;
    try {
      req = codecs[m].decode(mutate(seeds[m], ms));
    } catch {
      return 'undecodable'; // the ttRPC server refuses these with TTRPC_MALFORMED_MESSAGE (tests/fuzz/ttrpc)
    }
    const out = checkOutcome(p, m, policyInput(req));
    prototypeClean();
    return out;
  }, { runs: 500, seconds: 3 });
  const hostileId = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', '__proto__/x', '~1', '-', '0', ''), fc.string({ maxLength: 10 }));
  await fuzz('agent/policy(hostile ids)', [hostileId, hostileId], (id, exec) => {
    const create = policyInput(codecs.CreateContainerRequest.decode(codecs.CreateContainerRequest.encode({ container_id: id, exec_id: exec, OCI: { Version: '1.1.0' } })));
    const a = checkOutcome(p, 'CreateContainerRequest', create);
    prototypeClean();
    const b = checkOutcome(p, 'ExecProcessRequest', policyInput(codecs.ExecProcessRequest.decode(codecs.ExecProcessRequest.encode({ container_id: exec, exec_id: id }))));
    prototypeClean();
    return `${a}/${b}`;
  }, { runs: 300, seconds: 3 });
  await fuzz('agent/policy(rule names and inputs)', [fc.oneof(fc.constantFrom(...MESSAGES, 'x', 'data', 'input', '[0]', 'a.b', 'CreateContainerRequest.allowed', '"x"', ''), fc.string({ maxLength: 12 })), fc.jsonValue({ maxDepth: 3 })], (m, input) => checkOutcome(p, m, input), { runs: 400, seconds: 2 });
});
