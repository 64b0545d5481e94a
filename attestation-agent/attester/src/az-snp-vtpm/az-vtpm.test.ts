import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { requireTool, sharedDir } from '@kata-cc/testing';
import type { Attester } from '../attester.js';
import { createAttester } from '../registry.js';
import { AZURE_AK_HANDLE, HCL_REPORT_NV_INDEX } from '../common/azure.js';
import { openTransport, Tpm2 } from '../common/tpm2.js';
import { startSwtpm, type Swtpm } from '../tpm/swtpm-fixture.js';
import { AzTdxVtpmAttester, detectAzTdxVtpm } from '../az-tdx-vtpm/az-tdx-vtpm.js';
import { AzSnpVtpmAttester, detectAzSnpVtpm } from './az-snp-vtpm.js';

const D = (f: string): string => sharedDir('vectors', 'trustee/deps/verifier/test_data', f);

/** The vector's HCL report with a short runtime-data JSON, so it fits swtpm's 2048-byte NV limit. */
function compactHcl(file: string): Buffer {
  const full = readFileSync(D(file));
  const runtime = Buffer.from('{"keys":[]}');
  const out = Buffer.concat([full.subarray(0, 0x4c0 + 20), runtime]);
  out.writeUInt32LE(20 + runtime.length, 0x4c0);
  out.writeUInt32LE(runtime.length, 0x4c0 + 16);
  return out;
}

const snpHcl = compactHcl('az-snp-vtpm/hcl-report.bin');
const tdxHcl = compactHcl('az-tdx-vtpm/hcl-report.bin');
const vcekPem = readFileSync(D('az-snp-vtpm/vcek.pem'), 'utf8');
const tdQuote = readFileSync(D('az-tdx-vtpm/td-quote.bin'));
let snpTpm: Swtpm;
let tdxTpm: Swtpm;
let imds: http.Server;
let imdsUrl = '';
const tdReports: string[] = [];

// swtpm stands in for Azure's vTPM (real TPM commands, NV index and AK handle as on Azure);
// the instance metadata service is a FAKE IMDS on loopback.
before(async () => {
  requireTool('swtpm');
  requireTool('tpm2_nvdefine');
  [snpTpm, tdxTpm] = await Promise.all([
    startSwtpm({ akHandle: AZURE_AK_HANDLE, nv: [{ index: HCL_REPORT_NV_INDEX, data: snpHcl }] }),
    startSwtpm({ akHandle: AZURE_AK_HANDLE, nv: [{ index: HCL_REPORT_NV_INDEX, data: tdxHcl }] }),
  ]);
  imds = http.createServer((req, res) => {
    if (req.headers['metadata'] !== 'true') { res.writeHead(400); res.end(); return; }
    if (req.method === 'GET' && req.url === '/metadata/THIM/amd/certification') {
      res.end(JSON.stringify({ vcekCert: vcekPem, certificateChain: '' }));
    } else if (req.method === 'POST' && req.url === '/acc/tdquote') {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        tdReports.push((JSON.parse(body) as { report: string }).report);
        res.end(JSON.stringify({ quote: tdQuote.toString('base64url') }));
      });
    } else { res.writeHead(404); res.end(); }
  });
  await new Promise<void>((r) => imds.listen(0, '127.0.0.1', r));
  imdsUrl = `http://127.0.0.1:${(imds.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => imds?.close(r));
  await snpTpm?.stop();
  await tdxTpm?.stop();
});

async function akOf(spec: string): Promise<import('node:crypto').KeyObject> {
  const tpm = new Tpm2(await openTransport(spec));
  try { return await tpm.readPublic(AZURE_AK_HANDLE); } finally { await tpm.close(); }
}

test('az-snp-vtpm attester (swtpm vTPM + fake IMDS): HCL report from NV, vTPM quote by the AK with nonce = report data, VCEK from IMDS', async () => {
  const rd = Buffer.from('challenge');
  const ev = await new AzSnpVtpmAttester({ device: snpTpm.spec, imdsUrl }).getEvidence(rd);
  assert.equal(ev.version, 2);
  assert.deepEqual(Buffer.from(ev.hcl_report, 'base64url'), snpHcl);
  const msg = Buffer.from(ev.tpm_quote.message, 'hex');
  assert.ok(verify('sha256', msg, await akOf(snpTpm.spec), Buffer.from(ev.tpm_quote.signature, 'hex')));
  const signer = msg.readUInt16BE(6);
  assert.deepEqual(msg.subarray(10 + signer, 10 + signer + msg.readUInt16BE(8 + signer)), rd);
  assert.equal(ev.tpm_quote.pcrs.length, 24);
  const der = Buffer.from(vcekPem.split('-----END CERTIFICATE-----')[0]!.replace(/-----BEGIN CERTIFICATE-----|\s+/g, ''), 'base64');
  assert.deepEqual(Buffer.from(ev.vcek, 'base64url'), der);
  assert.equal(await detectAzSnpVtpm({ env: { AA_TPM_DEVICE: snpTpm.spec } }), true);
  assert.equal(await detectAzTdxVtpm({ env: { AA_TPM_DEVICE: snpTpm.spec } }), false);
});

test('az-tdx-vtpm attester (swtpm vTPM + fake IMDS): the TD report from the HCL report is sent to IMDS for the TD quote', async () => {
  const ev = await new AzTdxVtpmAttester({ device: tdxTpm.spec, imdsUrl }).getEvidence(Buffer.from('challenge'));
  assert.equal(ev.version, 1);
  assert.deepEqual(Buffer.from(tdReports.at(-1)!, 'base64url'), tdxHcl.subarray(0x20, 0x20 + 1024));
  assert.deepEqual(Buffer.from(ev.td_quote, 'base64url'), tdQuote);
  assert.equal(await detectAzTdxVtpm({ env: { AA_TPM_DEVICE: tdxTpm.spec } }), true);
  await assert.rejects(new AzTdxVtpmAttester({ device: tdxTpm.spec, imdsUrl: 'http://127.0.0.1:9' }).getEvidence(Buffer.alloc(8)), { code: 'ATTESTER_EVIDENCE_FAILED' });
});

test('az-snp-vtpm / az-tdx-vtpm attesters bind init-data into vTPM PCR 8 (extended, idempotent, another digest refused) and extend runtime events into PCRs', async () => {
  const zero = Buffer.alloc(32);
  const after1 = (d: Buffer): Buffer => createHash('sha256').update(zero).update(d).digest();
  for (const [make, spec] of [[(): Attester => new AzSnpVtpmAttester({ device: snpTpm.spec, imdsUrl }), snpTpm.spec], [(): Attester => new AzTdxVtpmAttester({ device: tdxTpm.spec, imdsUrl }), tdxTpm.spec]] as const) {
    const a = make();
    const digest = createHash('sha256').update(`initdata for ${spec}`).digest();
    assert.equal(await a.bindInitData!(digest), 'extended');
    assert.deepEqual(Buffer.from(await a.runtimeMeasurement!.read(8)), after1(digest));
    assert.equal(await make().bindInitData!(digest), 'extended', 'an AA restart with the same init-data finds it bound');
    await assert.rejects(make().bindInitData!(createHash('sha256').update('other').digest()), { code: 'ATTESTER_INITDATA_MISMATCH' });
    // The quote carries the PCR the attester extended.
    const ev = (await a.getEvidence(Buffer.from('n'))) as { tpm_quote: { pcrs: string[] } };
    assert.equal(ev.tpm_quote.pcrs[8], after1(digest).toString('hex'));

    const rm = a.runtimeMeasurement!;
    assert.equal(rm.algorithm, 'sha256');
    assert.equal(rm.ccmrForPcr(23), 23);
    const before = Buffer.from(await rm.read(23));
    const event = createHash('sha256').update('runtime event').digest();
    await rm.extend(event, 23);
    assert.deepEqual(Buffer.from(await rm.read(23)), createHash('sha256').update(before).update(event).digest());
    await assert.rejects(rm.extend(Buffer.alloc(48), 23), { code: 'ATTESTER_INVALID_ARGUMENT' });
    await assert.rejects(rm.extend(event, 24), { code: 'ATTESTER_INVALID_ARGUMENT' });
  }
});

test('createAttester: the IMDS base URL comes from the attester config, else env AA_AZURE_IMDS_URL (default Azure\'s link-local address)', async () => {
  const viaConfig = createAttester('az-snp-vtpm', { env: { AA_TPM_DEVICE: snpTpm.spec } }, { imdsUrl });
  const ev = (await viaConfig.getEvidence(Buffer.from('c'))) as { vcek: string };
  assert.ok(ev.vcek.length > 100);
  const viaEnv = createAttester('az-tdx-vtpm', { env: { AA_TPM_DEVICE: tdxTpm.spec, AA_AZURE_IMDS_URL: imdsUrl } });
  const n = tdReports.length;
  await viaEnv.getEvidence(Buffer.from('c'));
  assert.equal(tdReports.length, n + 1);
  // The config wins over the environment.
  await assert.rejects(createAttester('az-tdx-vtpm', { env: { AA_TPM_DEVICE: tdxTpm.spec, AA_AZURE_IMDS_URL: imdsUrl } }, { imdsUrl: 'http://127.0.0.1:9' }).getEvidence(Buffer.from('c')), { code: 'ATTESTER_EVIDENCE_FAILED' });
});
