import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { isKccError, KccError } from '@kata-cc/errors';
import { b64Decode, isTee, type Tee } from '@kata-cc/kbs-types';
import { createVerifier, isHardwareVerifier, type OptionalBinding, type VerifierConfig } from '@kata-cc/verifier';
import { writeOut } from '../context.js';
import { cliError, exitCodeOf } from '../errors.js';
import { readInput } from '../files.js';

const TEES = ['tdx', 'snp', 'se', 'az-snp-vtpm', 'az-tdx-vtpm', 'tpm', 'sample'] as const;
/** Claims that trustee encodes as base64 for these TEEs; printed as lowercase hex here. */
const BASE64_CLAIMS: Partial<Record<Tee, readonly string[]>> = {
  snp: ['measurement', 'report_data', 'init_data'],
  'az-snp-vtpm': ['measurement'],
};

interface VerifyOpts {
  tee: string;
  evidence: string;
  collateral?: string;
  vcek?: string;
  vcekStore?: string;
  time?: string;
  reportData?: string;
  initDataHash?: string;
  allowDebug?: boolean;
  allowMissingCollateral?: boolean;
  maxVmpl?: string;
  trustedAk?: string[];
  seKey?: string;
  pccsUrl?: string;
  collateralCache?: string;
  kdsUrl?: string;
  arkCrl?: string[];
  requireArkCrl?: boolean;
}

/**
 * Evidence as the user has it: raw bytes, hex text (with or without 0x), the TEE's evidence
 * JSON, or a whole KBS `Attestation` message (its `tee-evidence.primary_evidence` is used).
 */
export function decodeEvidenceInput(data: Buffer): unknown {
  const text = data.toString('utf8').trim();
  if (text.startsWith('{')) {
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch (cause) {
      throw cliError('KBSCLI_USAGE', 'The --evidence file starts with "{" but is not valid JSON', { cause });
    }
    const te = (o as Record<string, unknown>)['tee-evidence'];
    if (typeof te === 'object' && te !== null && 'primary_evidence' in te) {
      const p = (te as Record<string, unknown>)['primary_evidence'];
      return typeof p === 'string' ? JSON.parse(p) : p;
    }
    return o;
  }
  if (text.length > 0 && /^(0x)?[0-9a-fA-F\s]+$/.test(text) && text.replace(/^0x|\s+/g, '').length % 2 === 0) {
    return new Uint8Array(Buffer.from(text.replace(/^0x/, '').replace(/\s+/g, ''), 'hex'));
  }
  return new Uint8Array(data);
}

function hexArg(value: string | undefined, option: string): Uint8Array | undefined {
  if (value === undefined) return undefined;
  const s = value.trim().replace(/^0x/i, '');
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw cliError('KBSCLI_USAGE', `${option} must be hex`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function teeConfig(o: VerifyOpts): Record<string, unknown> {
  const c: Record<string, unknown> = {};
  if (o.collateral !== undefined) c['collateral'] = o.collateral;
  if (o.allowMissingCollateral) c['allowMissingCollateral'] = true;
  if (o.allowDebug) c['allowDebug'] = true;
  if (o.vcek !== undefined) c['vek'] = o.vcek;
  if (o.vcekStore !== undefined) c['vcekStoreDir'] = o.vcekStore;
  if (o.maxVmpl !== undefined) c['maxVmpl'] = Number(o.maxVmpl);
  if (o.seKey !== undefined) c['measurementKeyPrivate'] = o.seKey;
  if (o.pccsUrl !== undefined) c['pccsUrl'] = o.pccsUrl;
  if (o.collateralCache !== undefined) c['collateralCacheDir'] = o.collateralCache;
  if (o.kdsUrl !== undefined) c['kdsUrl'] = o.kdsUrl;
  if (o.arkCrl !== undefined) c['arkCrls'] = o.arkCrl;
  if (o.requireArkCrl) c['requireArkCrl'] = true;
  for (const ak of o.trustedAk ?? []) {
    if (statSync(ak, { throwIfNoEntry: false })?.isDirectory()) c['trustedAkKeysDir'] = ak;
    else c['trustedAks'] = [...((c['trustedAks'] as string[] | undefined) ?? []), ak];
  }
  return c;
}

function printableClaims(tee: Tee, claims: Record<string, unknown>): Record<string, unknown> {
  const out = { ...claims };
  for (const k of BASE64_CLAIMS[tee] ?? []) {
    if (typeof out[k] === 'string') out[k] = Buffer.from(out[k], 'base64').toString('hex');
  }
  return out;
}

/** Runs one verification and returns the JSON report and the exit code (0 iff verified). */
export async function runVerify(o: VerifyOpts): Promise<{ report: Record<string, unknown>; exitCode: number }> {
  if (!isTee(o.tee) || !(TEES as readonly string[]).includes(o.tee)) {
    throw cliError('KBSCLI_USAGE', `Unknown --tee "${o.tee}"; one of ${TEES.join(', ')}`);
  }
  const tee = o.tee;
  const now = o.time === undefined ? new Date() : new Date(o.time);
  if (Number.isNaN(now.getTime())) throw cliError('KBSCLI_USAGE', `--time "${o.time}" is not an ISO 8601 date`);
  const evidence = decodeEvidenceInput(await readInput(o.evidence, '--evidence'));
  const expected: OptionalBinding = {};
  const rd = hexArg(o.reportData, '--report-data');
  const init = hexArg(o.initDataHash, '--init-data-hash');
  if (rd) expected.reportData = rd;
  if (init) expected.initDataHash = init;
  const config: VerifierConfig = { allowSample: true, tees: { [tee]: teeConfig(o) } };
  const report: Record<string, unknown> = { verified: false, tee, time: now.toISOString() };
  try {
    const verifier = createVerifier(tee, config);
    let result;
    if (isHardwareVerifier(verifier)) {
      result = await verifier.inspect(evidence, expected, { now });
    } else {
      // The sample TEE has no signature; without --report-data it is checked against itself.
      const own = (evidence as { report_data?: string }).report_data;
      const reportData = expected.reportData ?? (typeof own === 'string' ? b64Decode(own) : new Uint8Array());
      result = { ...(await verifier.verify(evidence, { ...expected, reportData }, { now })), skipped: expected.reportData ? [] : ['report_data'] };
    }
    report['verified'] = true;
    report['tcb_status'] = result.tcbStatus ?? null;
    report['claims'] = printableClaims(tee, result.claims);
    if (result.skipped.length > 0) report['skipped_checks'] = result.skipped;
    return { report, exitCode: 0 };
  } catch (err) {
    if (!isKccError(err)) throw err;
    report['tcb_status'] = null;
    report['error'] = errorJson(err);
    return { report, exitCode: exitCodeOf(err) || 1 };
  }
}

function errorJson(err: KccError): Record<string, unknown> {
  return { code: err.code, kind: err.kind, message: err.message, ...(err.details ? { details: err.details } : {}) };
}

/** `kbs-cli verify`: verifies TEE evidence offline and prints one JSON object. */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('Verify TEE evidence locally (no KBS) and print {verified, tee, tcb_status, claims, error}; exit 0 iff verified')
    .requiredOption('--tee <tee>', `TEE of the evidence: ${TEES.join('|')}`)
    .requiredOption('--evidence <file>', 'evidence: raw bytes, hex text (0x optional), TEE evidence JSON or a KBS Attestation message')
    .option('--collateral <file|dir>', 'TDX: QuoteCollateralV3 JSON file or a directory of PCS responses (see verifier README)')
    .option('--pccs-url <url>', 'TDX: fetch collateral from this PCCS/PCS (API v4) when --collateral is not given')
    .option('--collateral-cache <dir>', 'TDX: on-disk cache for --pccs-url collateral')
    .option('--allow-missing-collateral', 'TDX: skip (and list) the collateral checks whose collateral is absent')
    .option('--vcek <file>', 'SNP: VCEK or VLEK (DER or PEM) when the evidence carries none')
    .option('--vcek-store <dir>', 'SNP: offline VCEK store root (vcek/<hwid>/<tcb>_vcek.der)')
    .option('--kds-url <url>', 'SNP: fetch a missing VCEK from this KDS (e.g. https://kdsintf.amd.com), cached in --vcek-store')
    .option('--ark-crl <file...>', 'SNP: AMD ARK CRL file(s) (DER or PEM) revoking ASK/ASVK certificates; also fetched from --kds-url')
    .option('--require-ark-crl', 'SNP: fail when no ARK CRL is at hand (default: the check is listed as skipped)')
    .option('--max-vmpl <n>', 'SNP: highest VMPL accepted (default 0)')
    .option('--trusted-ak <file|dir...>', 'TPM: trusted attestation key(s), PEM public key files or a directory of *.pub')
    .option('--se-key <file>', 'SE: RSA private key PEM that encrypted the measurement key and nonce of the request')
    .option('--allow-debug', 'accept debug TDs / SNP guests whose policy allows debugging')
    .option('--time <iso8601>', 'verify certificates and collateral at this time (default now)')
    .option('--report-data <hex>', 'expected report_data (raw digest; padded or truncated as the TEE does)')
    .option('--init-data-hash <hex>', 'expected init-data digest (MRCONFIGID / HOST_DATA / PCR8)')
    .action(async (opts: VerifyOpts) => {
      const { report, exitCode } = await runVerify(opts);
      await writeOut(`${JSON.stringify(report, null, 2)}\n`);
      process.exitCode = exitCode;
    });
}
