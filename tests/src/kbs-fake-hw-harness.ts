/**
 * Helpers for kbs-fake-hw.test.ts: the real `kbs` binary WITHOUT dev mode (no --allow-sample,
 * unlike kbs-harness `startKbs`) with a --verifier-config, its admin calls through kbs-cli, and
 * the real TDX / SNP attesters over a FAKE configfs-tsm whose "hardware" is a fake platform
 * from @kata-cc/testing (a test CA standing in for Intel and AMD: no TEE hardware here).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SnpAttester, TdxAttester, type Attester } from '@kata-cc/attester';
import { fakeTsm, startKbsProcess, type FakeSnpPlatform, type FakeTdxPlatform, type FakeTsmFs } from '@kata-cc/testing';
import { kbsCli, writeAdminKeys } from './kbs-harness.js';

export interface PlainKbs {
  url: string;
  adminKey: string;
  /** The KBS's stderr (pino JSON lines at level warn). */
  logs(): string;
  stop(): Promise<void>;
}

/** Starts the real `kbs` binary (memory store, plain HTTP, no --allow-sample) with this verifier config. */
export async function startPlainKbs(dir: string, verifierConfig: unknown, name: string): Promise<PlainKbs> {
  const admin = await writeAdminKeys(dir, `admin-${name}`);
  const cfg = path.join(dir, `verifier-${name}.json`);
  await writeFile(cfg, JSON.stringify(verifierConfig));
  const kbs = await startKbsProcess(['--insecure-http', '--storage', 'memory:', '--admin-key', admin.pub, '--verifier-config', cfg]);
  return { url: kbs.url, adminKey: admin.key, logs: kbs.stderr, stop: kbs.stop };
}

/** One admin call through the real kbs-cli; fails the test when it fails. */
export async function admin(k: PlainKbs, ...args: string[]): Promise<void> {
  const r = await kbsCli(['--url', k.url, '--admin-key', k.adminKey, ...args]);
  assert.equal(r.code, 0, r.stderr);
}

/** Registers sample reference values (one RVPS message) through kbs-cli. */
export async function referenceValues(dir: string, k: PlainKbs, values: Record<string, unknown[]>, name: string): Promise<void> {
  const file = path.join(dir, `rv-${name}.json`);
  await writeFile(file, JSON.stringify({ version: '0.1.0', type: 'sample', payload: Buffer.from(JSON.stringify(values)).toString('base64') }));
  await admin(k, 'set-reference-value', '--file', file);
}

/** default_cpu's SNP reference values (trustee's ids) for this chip's launch measurement and reported TCB. */
export function snpReferenceValues(chip: FakeSnpPlatform): Record<string, string[]> {
  return {
    snp_launch_measurement: [Buffer.from(chip.measurement).toString('base64')],
    snp_bootloader: [String(chip.tcb.bootloader)],
    snp_microcode: [String(chip.tcb.microcode)],
    snp_snp_svn: [String(chip.tcb.snp)],
    snp_tee_svn: [String(chip.tcb.tee)],
  };
}

/** Stores each secret as resource `default/fake/<name>` through kbs-cli. */
export async function storeSecrets(dir: string, k: PlainKbs, secrets: Record<string, string>): Promise<void> {
  for (const [name, secret] of Object.entries(secrets)) {
    await writeFile(path.join(dir, `${name}-secret`), secret);
    await admin(k, 'set-resource', '--path', `default/fake/${name}`, '--file', path.join(dir, `${name}-secret`));
  }
}

/** True when a KBS log line carries this error `code`. */
export const logged = (k: PlainKbs, code: string): boolean => k.logs().split('\n').some((l) => l.includes(`"code":"${code}"`));

/** The real SNP attester over a fake configfs-tsm whose "AMD-SP" is `chip` (`tamper`: flip a measurement bit after signing). */
export async function fakeSnpAttester(dir: string, chip: FakeSnpPlatform, tamper = false): Promise<{ attester: Attester; tsm: FakeTsmFs }> {
  const root = path.join(dir, `snp-root-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(`${root}/sys/kernel/config/tsm/report`, { recursive: true }); // the attester checks configfs-tsm exists
  const tsm = fakeTsm({
    provider: 'sev_guest',
    produce: (inblob, privlevel) => {
      const outblob = Buffer.from(chip.report(inblob, { vmpl: privlevel }));
      if (tamper) outblob[0x90]! ^= 1;
      return { outblob, auxblob: chip.certTable() };
    },
  });
  return { attester: new SnpAttester({ tsm }, { root, env: {} }), tsm };
}

/** The real TDX attester over a fake configfs-tsm whose "TDX module + QE" is `platform` (`tamper`: flip an MRTD bit after signing). */
export function fakeTdxAttester(dir: string, platform: FakeTdxPlatform, tamper = false): { attester: Attester; tsm: FakeTsmFs } {
  const tsm = fakeTsm({
    provider: 'tdx_guest',
    produce: (inblob) => {
      const outblob = Buffer.from(platform.quote(inblob));
      if (tamper) outblob[48 + 136]! ^= 1;
      return { outblob };
    },
  });
  return { attester: new TdxAttester({ tsm }, { root: path.join(dir, 'tdx-root'), env: {} }), tsm };
}

export type Claims = Record<string, any>;
/** The payload of an EAR token (not verified: the test only reads what the KBS appraised). */
export const tokenClaims = (token: string): Claims => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Claims;
