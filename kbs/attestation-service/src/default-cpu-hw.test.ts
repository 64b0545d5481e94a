/**
 * The default `default_cpu` policy on the claims the verifiers produce from REAL evidence in
 * ../shared/vectors: TPM (trustee's tpm_evidence.json) and Azure vTPM (SNP and TDX), plus sample IBM SE claims. Affirming
 * only when the registered reference values match; never affirming without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sharedDir } from '@kata-cc/testing';
import { createVerifier, type HardwareVerifier } from '@kata-cc/verifier';
import { DEFAULT_CPU_POLICY, PolicyEngine, REFERENCE_VALUE_MODULE, statusOf } from './index.js';
import type { TrustVector } from './index.js';

const engine = new PolicyEngine();
const modules = [
  { path: 'default_cpu.rego', source: DEFAULT_CPU_POLICY },
  { path: 'query_reference_value.rego', source: REFERENCE_VALUE_MODULE },
];
function appraise(input: Record<string, unknown>, refs: Record<string, unknown>): { status: string; vector: TrustVector } {
  const vector = engine.evaluate(modules, 'data.policy.trust_claims', input, { reference_values: refs, dev_mode: false }) as TrustVector;
  return { status: statusOf(vector), vector };
}

const ev = JSON.parse(readFileSync(sharedDir('vectors', 'trustee/deps/verifier/test_data/tpm_evidence.json'), 'utf8')) as { ak_public: string; tpm_quote: { pcrs: string[] } };
const akPem = `-----BEGIN PUBLIC KEY-----\n${ev.ak_public}\n-----END PUBLIC KEY-----\n`;

test('TPM (real trustee evidence): contraindicated without reference values, affirming when registered PCRs match', async () => {
  const v = createVerifier('tpm', { tees: { tpm: { trustedAks: [akPem] } } }) as unknown as HardwareVerifier;
  const { claims } = await v.inspect(ev, {});
  assert.equal(claims['ak_public'], ev.ak_public, 'trustee claim ak_public');
  const input = { tpm: claims };
  const pcr11 = ev.tpm_quote.pcrs[11]!;
  const pcr4 = ev.tpm_quote.pcrs[4]!;
  assert.equal(appraise(input, {}).status, 'warning', 'executables stay 33 without reference values');
  assert.equal(appraise(input, {}).vector.executables, 33);
  const ok = appraise(input, { tpm_pcr11: [pcr11] });
  assert.equal(ok.status, 'affirming');
  assert.deepEqual([ok.vector.executables, ok.vector.hardware, ok.vector.configuration], [3, 2, 0]);
  assert.equal(appraise(input, { tpm_pcr11: [pcr11], tpm_pcr04: [pcr4] }).status, 'affirming', 'every registered PCR matches');
  assert.equal(appraise(input, { tpm_pcr11: [pcr11], tpm_pcr04: ['ff'.repeat(32)] }).status, 'warning', 'one registered PCR differs');
  assert.equal(appraise(input, { tpm_pcr11: ['11'.repeat(32)] }).status, 'warning');
  // trustee's trusted_aks reference value, when registered, must hold this AK.
  assert.equal(appraise(input, { tpm_pcr11: [pcr11], trusted_aks: [ev.ak_public] }).status, 'affirming');
  assert.equal(appraise(input, { tpm_pcr11: [pcr11], trusted_aks: ['other'] }).status, 'warning');
});

const AZ = (tee: string, f: string): string => readFileSync(sharedDir('vectors', `trustee/deps/verifier/test_data/${tee}`, f), 'utf8');

test('az-snp-vtpm (real Azure evidence): contraindicated without reference values, affirming with trustee ids matching', async () => {
  const v = createVerifier('az-snp-vtpm') as unknown as HardwareVerifier;
  const c = (await v.inspect(AZ('az-snp-vtpm', 'evidence-v1.json'), {})).claims as Record<string, unknown> & { tpm: Record<string, string> };
  const refs: Record<string, unknown[]> = {
    measurement: [c['measurement']], snp_pcr11: [c.tpm['pcr11']],
    tcb_bootloader: [c['reported_tcb_bootloader']], tcb_microcode: [c['reported_tcb_microcode']], tcb_snp: [c['reported_tcb_snp']], tcb_tee: [c['reported_tcb_tee']],
    smt_enabled: [c['platform_smt_enabled']], tsme_enabled: [c['platform_tsme_enabled']], abi_major: [c['policy_abi_major']], abi_minor: [c['policy_abi_minor']],
    single_socket: [c['policy_single_socket']], smt_allowed: [c['policy_smt_allowed']],
  };
  for (const [k, x] of Object.entries(refs)) assert.notEqual(x[0], undefined, `claim for ${k}`);
  const input = { 'az-snp-vtpm': c };
  assert.equal(appraise(input, {}).status, 'contraindicated');
  assert.equal(appraise(input, refs).status, 'affirming');
  assert.equal(appraise(input, { ...refs, snp_pcr11: ['ff'.repeat(32)] }).status, 'warning', 'PCR11 differs');
});

test('az-tdx-vtpm (real Azure evidence): PCR11 affirms executables; hardware stays contraindicated without an UpToDate TCB', async () => {
  const v = createVerifier('az-tdx-vtpm', { tees: { 'az-tdx-vtpm': { allowMissingCollateral: true } } }) as unknown as HardwareVerifier;
  const c = (await v.inspect(AZ('az-tdx-vtpm', 'evidence-v1.json'), {})).claims as Record<string, unknown> & { tpm: Record<string, string>; quote: { body: Record<string, string> } };
  const refs = { tdx_pcr11: [c.tpm['pcr11']], mr_td: [c.quote.body['mr_td']], xfam: [c.quote.body['xfam']] };
  const input = { 'az-tdx-vtpm': c };
  assert.equal(appraise(input, {}).status, 'contraindicated');
  const r = appraise(input, refs);
  assert.equal(r.vector.executables, 3);
  assert.equal(r.vector.configuration, 2);
  // No collateral: no TCB status, so the hardware claim is not affirmed.
  assert.notEqual(c['tcb_status'], 'UpToDate');
  assert.equal(r.vector.hardware, 97);
  assert.equal(appraise({ 'az-tdx-vtpm': { ...c, tcb_status: 'UpToDate' } }, refs).status, 'affirming');
});

// No real IBM SE evidence exists (vectors/MANIFEST.md): SAMPLE claims in the SE verifier's shape.
test('SE (sample claims): contraindicated without reference values; affirming only when the tag, both host-key hashes and version match trustee\'s se.* ids', () => {
  const se = { version: 256, cuid: '11'.repeat(16), report_data: '00'.repeat(64), image_phkh: 'aa'.repeat(32), attestation_phkh: 'bb'.repeat(32), tag: 'cc'.repeat(16) };
  const refs: Record<string, unknown[]> = { 'se.tag': [se.tag], 'se.image_phkh': [se.image_phkh], 'se.attestation_phkh': [se.attestation_phkh], 'se.version': ['256'] };
  const vec = (r: { vector: TrustVector }): (number | undefined)[] => [r.vector.executables, r.vector.hardware, r.vector.configuration];
  assert.equal(appraise({ se }, {}).status, 'contraindicated');
  assert.deepEqual(vec(appraise({ se }, {})), [33, 97, 36]);
  const ok = appraise({ se }, refs);
  assert.equal(ok.status, 'affirming');
  assert.deepEqual(vec(ok), [3, 2, 2]);
  // Each registered value decides its claim; an unregistered id never affirms.
  assert.deepEqual(vec(appraise({ se }, { ...refs, 'se.tag': ['dd'.repeat(16)] })), [33, 2, 2]);
  assert.deepEqual(vec(appraise({ se }, { ...refs, 'se.attestation_phkh': ['ee'.repeat(32)] })), [3, 97, 2], 'another machine');
  assert.deepEqual(vec(appraise({ se }, { ...refs, 'se.image_phkh': [] })), [3, 97, 2], 'image built for another host key');
  assert.deepEqual(vec(appraise({ se }, { ...refs, 'se.version': ['1'] })), [3, 2, 36]);
  const { 'se.tag': _tag, ...noTag } = refs;
  assert.deepEqual(vec(appraise({ se }, noTag)), [33, 2, 2], 'no se.tag registered: executables never affirmed');
  assert.notEqual(appraise({ se }, noTag).status, 'affirming');
  // The old underscore ids (se_tag, ...) are not trustee's: they affirm nothing.
  assert.equal(appraise({ se }, { se_tag: [se.tag], se_image_phkh: [se.image_phkh], se_attestation_phkh: [se.attestation_phkh], se_version: ['256'] }).status, 'contraindicated');
});
