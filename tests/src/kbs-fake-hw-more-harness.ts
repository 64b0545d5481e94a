/**
 * Helpers for kbs-fake-hw-more.test.ts: the IBM SE verifier material (host-key documents made
 * with openssl, an SE image header, the measurement-encryption RSA key), an Azure vTPM made of
 * a real swtpm whose HCL-report NV index is written by a FAKE paravisor, and a FAKE Azure
 * instance metadata service (IMDS) on loopback; and the attest-then-fetch steps the tests share.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import type { Attester } from '@kata-cc/attester';
import { startSwtpm, type Swtpm } from '@kata-cc/attester/testing';
import { hasCode } from '@kata-cc/errors';
import { KbsClient } from '@kata-cc/kbs-client';
import { tokenClaims, type Claims, type PlainKbs } from './kbs-fake-hw-harness.js';

const run = promisify(execFile);

/** The HCL attestation key's persistent handle and the HCL report NV index on Azure CVMs (az-cvm-vtpm). */
export const AZURE_AK_HANDLE = 0x81000003;
export const HCL_REPORT_NV_INDEX = 0x01400001;

export interface SeMachine {
  /** The host-key document (self-signed: no IBM-signed HKDs exist here; the KBS skips their verification). */
  hkd: string;
  /** The host key's private half, which only this machine's Ultravisor holds. */
  hostKey: KeyObject;
}

/** One IBM Z machine: an EC P-521 host key and its host-key document, made with openssl. */
export async function seMachine(dir: string, name: string): Promise<SeMachine> {
  const key = path.join(dir, `${name}-host.key`);
  const hkd = path.join(dir, `${name}-hkd.crt`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp521r1', '-nodes', '-keyout', key, '-out', hkd, '-subj', `/CN=fake IBM Z host key ${name}`, '-days', '1']);
  return { hkd, hostKey: createPrivateKey(await readFile(key)) };
}

/** A bare SE image header (`hdr.bin`: IBMSecEx, version 0x100) and its 208-byte header tags (pld, ald, tld, tag). */
export async function seImageHeader(dir: string, name: string): Promise<{ file: string; tags: Buffer }> {
  const size = 0x280;
  const hdr = Buffer.alloc(size);
  hdr.write('IBMSecEx', 0, 'latin1');
  hdr.writeUInt32BE(0x100, 8);
  hdr.writeUInt32BE(size, 12);
  randomBytes(192).copy(hdr, 0xe0); // pld, ald, tld: the image's measured digests
  randomBytes(16).copy(hdr, size - 16); // the header tag
  const file = path.join(dir, `${name}-hdr.bin`);
  await writeFile(file, hdr);
  return { file, tags: Buffer.concat([hdr.subarray(0xe0, 0x1a0), hdr.subarray(size - 16)]) };
}

/** The verifier's RSA key that the SE challenge encrypts the measurement key and nonce to. */
export const seMeasurementKey = (): string => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

export interface AzureVtpm {
  tpm: Swtpm;
  /** The vTPM AK (RSA), as the paravisor puts it in the HCL runtime data. */
  ak: KeyObject;
  /** Writes (or rewrites, same size) the HCL report NV index. */
  writeHcl(hcl: Uint8Array): Promise<void>;
  /** Extends a SHA-256 PCR with `digest`, as a boot component would. */
  extend(pcr: number, digest: Buffer): Promise<void>;
}

/** A real software TPM provisioned like Azure's vTPM: the AK at 0x81000003; the HCL report comes from the fake paravisor. */
export async function azureVtpm(dir: string, name: string): Promise<AzureVtpm> {
  const tpm = await startSwtpm({ akHandle: AZURE_AK_HANDLE });
  const env = { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${new URL(tpm.spec).port}` };
  const t = async (...args: string[]): Promise<void> => { await run(args[0]!, args.slice(1), { env }); };
  try {
    const akPem = path.join(dir, `${name}-ak.pem`);
    await t('tpm2_readpublic', '-c', `0x${AZURE_AK_HANDLE.toString(16)}`, '-f', 'pem', '-o', akPem);
    const ak = createPublicKey(await readFile(akPem));
    const idx = `0x${HCL_REPORT_NV_INDEX.toString(16)}`;
    let defined = false;
    return {
      tpm,
      ak,
      async writeHcl(hcl) {
        const file = path.join(dir, `${name}-hcl.bin`);
        await writeFile(file, hcl);
        if (!defined) await t('tpm2_nvdefine', idx, '-C', 'o', '-s', String(hcl.length), '-a', 'authread|authwrite|ownerread|ownerwrite');
        defined = true;
        await t('tpm2_nvwrite', idx, '-C', 'o', '-i', file);
      },
      async extend(pcr, digest) {
        await t('tpm2_pcrextend', `${pcr}:sha256=${digest.toString('hex')}`);
      },
    };
  } catch (err) {
    await tpm.stop();
    throw err;
  }
}

export interface FakeImds {
  url: string;
  /** TDREPORTs the guest sent to /acc/tdquote. */
  tdReports: Buffer[];
  close(): Promise<void>;
}

/**
 * A FAKE Azure IMDS (the real one is 169.254.169.254 on Azure only): the VCEK of the fake SNP
 * chip (`GET /metadata/THIM/amd/certification`) and TD quotes for TDREPORTs (`POST /acc/tdquote`),
 * both requiring the `Metadata: true` header as Azure does.
 */
export async function fakeImds(vcekPem: () => string, tdQuote: (tdReport: Buffer) => Uint8Array): Promise<FakeImds> {
  const tdReports: Buffer[] = [];
  const server = http.createServer((req, res) => {
    if (req.headers['metadata'] !== 'true') { res.writeHead(400); res.end(); return; }
    if (req.method === 'GET' && req.url === '/metadata/THIM/amd/certification') {
      res.end(JSON.stringify({ vcekCert: vcekPem(), certificateChain: '', tcbm: '' }));
      return;
    }
    if (req.method === 'POST' && req.url === '/acc/tdquote') {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        try {
          const report = Buffer.from((JSON.parse(body) as { report: string }).report, 'base64url');
          tdReports.push(report);
          res.end(JSON.stringify({ quote: Buffer.from(tdQuote(report)).toString('base64url') }));
        } catch {
          res.writeHead(400);
          res.end();
        }
      });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tdReports,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Attests, then asks for `default/fake/<resource>`; returns the cpu0 submod of the token and the resource or the refusal. */
export async function attestAndGet(kbs: PlainKbs, attester: Attester, resource: string): Promise<{ cpu: Claims; got?: string; err?: unknown }> {
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'] as Claims;
    try {
      return { cpu, got: Buffer.from(await c.getResource(`kbs:///default/fake/${resource}`)).toString() };
    } catch (err) {
      return { cpu, err };
    }
  } finally {
    await c.close();
  }
}

/** The resource policy refused: 401 KBC_POLICY_DENIED, and the secret appears nowhere in the refusal. */
export function refused(r: { err?: unknown; got?: string }, secret: string): void {
  assert.equal(r.got, undefined, 'the resource must not be released');
  assert.ok(hasCode(r.err, 'KBC_POLICY_DENIED'), String(r.err));
  const e = r.err as { message: string; details?: Record<string, unknown> };
  assert.equal(e.details?.['status'], 401);
  assert.doesNotMatch(e.message + JSON.stringify(e.details), new RegExp(secret));
}

/** The KBS refused the evidence at /attest (HTTP 401) and logged `code`. */
export async function attestRefused(kbs: PlainKbs, attester: Attester, code: string, options: { initData?: string } = {}): Promise<void> {
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1, ...options }, { attester });
  try {
    await assert.rejects(c.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED') && /HTTP 401/.test((e as Error).message));
    assert.ok(kbs.logs().split('\n').some((l) => l.includes(`"code":"${code}"`)), kbs.logs());
  } finally {
    await c.close();
  }
}

/** A guest that replays the first evidence its attester produced into every later session. */
export function replaying(attester: Attester): Attester {
  let first: Promise<unknown> | undefined;
  const r: Attester = { tee: attester.tee, getEvidence: (reportData) => (first ??= attester.getEvidence(reportData)) };
  const rd = attester.reportDataForChallenge?.bind(attester);
  return rd ? { ...r, reportDataForChallenge: rd } : r;
}
