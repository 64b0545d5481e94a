/**
 * TDX 1.5 TEE_TCB_SVN2 (QVL's TD relaunch check) against the REAL TCB info of the go-tdx-guest
 * v5 sample (Intel-signed; its levels and TDX module identities drive the result). The statuses
 * fed in are the ones the verifier computes; the v5 sample quote itself is UpToDate (tested in
 * tdx-verifier.test.ts), so the OutOfDate inputs here are sample values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sharedDir } from '@kata-cc/testing';
import { splitSignedBody } from './collateral.js';
import { parseTcbInfo, relaunchStatus, type RelaunchInputs } from './tcb.js';

const info = parseTcbInfo(splitSignedBody(readFileSync(sharedDir('vectors', 'go-tdx-guest', 'testing', 'testdata', 'sample_tcbinfo_response_v5'), 'utf8'), 'tcbInfo').raw);
const latest = info.tcbLevels[0]!.tcb.tdxtcbcomponents!;
const svn2 = (minor: number, major: number, patch: number): Uint8Array => Uint8Array.from([minor, major, patch, ...new Array<number>(13).fill(0)]);
const outdated: RelaunchInputs = { sgx: 'UpToDate', tdx: 'OutOfDate', module: 'OutOfDate', qe: 'UpToDate' };

test('module major 0 in SVN2: relaunch advised when SVN2 meets the latest level, else no relaunch status', () => {
  const ok = svn2(latest[0]!.svn, 0, latest[2]!.svn);
  assert.equal(relaunchStatus(info, ok, outdated), 'TDRelaunchAdvised');
  assert.equal(relaunchStatus(info, ok, { ...outdated, sgx: 'ConfigurationNeeded' }), 'TDRelaunchAdvisedConfigurationNeeded');
  assert.equal(relaunchStatus(info, ok, { ...outdated, tdx: 'OutOfDateConfigurationNeeded' }), 'TDRelaunchAdvisedConfigurationNeeded');
  assert.equal(relaunchStatus(info, svn2(latest[0]!.svn, 0, latest[2]!.svn - 1), outdated), undefined, 'SEAM loader patch below the latest level');
});

test('module major > 0 in SVN2: compared with that module identity (TDX_03 in this TCB info); unknown identity fails', () => {
  const mod = info.tdxModuleIdentities!.find((m) => m.id === 'TDX_03')!;
  const top = mod.tcbLevels[0]!.tcb.isvsvn;
  assert.equal(relaunchStatus(info, svn2(top, 3, latest[2]!.svn), outdated), 'TDRelaunchAdvised');
  assert.equal(relaunchStatus(info, svn2(top - 1, 3, latest[2]!.svn), outdated), undefined);
  assert.throws(() => relaunchStatus(info, svn2(1, 0x7f, 9), outdated), { code: 'VERIFIER_TDX_MODULE_MISMATCH' });
});

test('no relaunch status unless only the TDX module is out of date (QE, SGX, TDX and module statuses)', () => {
  const ok = svn2(latest[0]!.svn, 0, latest[2]!.svn);
  assert.equal(relaunchStatus(info, ok, { ...outdated, qe: 'OutOfDate' }), undefined);
  assert.equal(relaunchStatus(info, ok, { ...outdated, sgx: 'OutOfDate' }), undefined);
  assert.equal(relaunchStatus(info, ok, { ...outdated, tdx: 'UpToDate' }), undefined);
  assert.equal(relaunchStatus(info, ok, { ...outdated, module: 'UpToDate' }), undefined);
  assert.equal(relaunchStatus(info, ok, { ...outdated, qe: undefined }), 'TDRelaunchAdvised', 'no QE identity: as QVL, not a blocker');
});
