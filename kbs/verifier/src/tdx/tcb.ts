/**
 * TDX TCB Info (v3) and TD_QE identity (v2): their shapes, and matching a platform to a TCB
 * level the way Intel's QVL does (first level, in Intel's order, whose SGX components, PCE SVN
 * and TDX components are all <= the platform's), plus the QE and TDX-module identity levels.
 */
import { KccError } from '@kata-cc/errors';

export type TcbStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded'
  | 'TDRelaunchAdvised'
  | 'TDRelaunchAdvisedConfigurationNeeded'
  | 'Revoked';

interface Svn { readonly svn: number }

export interface TcbLevel {
  readonly tcb: { readonly sgxtcbcomponents: readonly Svn[]; readonly pcesvn: number; readonly tdxtcbcomponents?: readonly Svn[] };
  readonly tcbDate: string;
  readonly tcbStatus: TcbStatus;
  readonly advisoryIDs?: readonly string[];
}

export interface IsvLevel {
  readonly tcb: { readonly isvsvn: number };
  readonly tcbDate: string;
  readonly tcbStatus: TcbStatus;
  readonly advisoryIDs?: readonly string[];
}

export interface TdxModuleIdentity {
  readonly id: string;
  readonly mrsigner: string;
  readonly attributes: string;
  readonly attributesMask: string;
  readonly tcbLevels: readonly IsvLevel[];
}

export interface TcbInfo {
  readonly id: string;
  readonly version: number;
  readonly issueDate: string;
  readonly nextUpdate: string;
  readonly fmspc: string;
  readonly pceId: string;
  readonly tcbEvaluationDataNumber: number;
  readonly tdxModule?: { readonly mrsigner: string; readonly attributes: string; readonly attributesMask: string };
  readonly tdxModuleIdentities?: readonly TdxModuleIdentity[];
  readonly tcbLevels: readonly TcbLevel[];
}

export interface QeIdentity {
  readonly id: string;
  readonly version: number;
  readonly issueDate: string;
  readonly nextUpdate: string;
  readonly tcbEvaluationDataNumber: number;
  readonly miscselect: string;
  readonly miscselectMask: string;
  readonly attributes: string;
  readonly attributesMask: string;
  readonly mrsigner: string;
  readonly isvprodid: number;
  readonly tcbLevels: readonly IsvLevel[];
}

export interface Matched {
  readonly status: TcbStatus;
  readonly tcbDate: string;
  readonly advisoryIds: readonly string[];
}

function fail(code: string, message: string, details?: Record<string, unknown>): never {
  throw new KccError({ kind: 'UNAUTHENTICATED', code, message, ...(details ? { details } : {}) });
}

export function parseTcbInfo(raw: string): TcbInfo {
  const t = JSON.parse(raw) as TcbInfo;
  if (t.id !== 'TDX' || t.version !== 3 || !Array.isArray(t.tcbLevels)) {
    fail('VERIFIER_TDX_TCB_INFO_UNSUPPORTED', `TCB info id "${String(t.id)}" version ${String(t.version)} is not TDX v3`);
  }
  return t;
}

export function parseQeIdentity(raw: string): QeIdentity {
  const q = JSON.parse(raw) as QeIdentity;
  if (q.id !== 'TD_QE' || q.version !== 2 || !Array.isArray(q.tcbLevels)) {
    fail('VERIFIER_TDX_QE_IDENTITY_UNSUPPORTED', `QE identity id "${String(q.id)}" version ${String(q.version)} is not TD_QE v2`);
  }
  return q;
}

/** The platform TCB level for the PCK components/PCE SVN and the TD's TEE TCB SVN. */
export function matchTcbLevel(info: TcbInfo, cpuComponents: readonly number[], pceSvn: number, teeTcbSvn: Uint8Array): Matched {
  // TDX module major version > 0 (TDX 1.5+): bytes 0-1 are checked through the module identity.
  const start = teeTcbSvn[1]! > 0 ? 2 : 0;
  for (const level of info.tcbLevels) {
    const sgx = level.tcb.sgxtcbcomponents;
    const tdx = level.tcb.tdxtcbcomponents ?? [];
    const sgxOk = sgx.every((c, i) => (cpuComponents[i] ?? 0) >= c.svn);
    const tdxOk = tdx.every((c, i) => i < start || (teeTcbSvn[i] ?? 0) >= c.svn);
    if (sgxOk && pceSvn >= level.tcb.pcesvn && tdxOk) {
      return { status: level.tcbStatus, tcbDate: level.tcbDate, advisoryIds: level.advisoryIDs ?? [] };
    }
  }
  return fail('VERIFIER_TDX_TCB_LEVEL_NOT_FOUND', 'No TCB level in the TCB info matches the platform', { pceSvn, teeTcbSvn: Buffer.from(teeTcbSvn).toString('hex') });
}

export function matchIsvLevel(levels: readonly IsvLevel[], isvSvn: number, code: string, what: string): Matched {
  const level = levels.find((l) => isvSvn >= l.tcb.isvsvn);
  if (!level) fail(code, `No ${what} TCB level matches SVN ${isvSvn}`);
  return { status: level.tcbStatus, tcbDate: level.tcbDate, advisoryIds: level.advisoryIDs ?? [] };
}

/** True when `value & mask == expected & mask` (hex strings of equal length). */
export function maskedEqual(value: Uint8Array, expectedHex: string, maskHex: string): boolean {
  const exp = Buffer.from(expectedHex, 'hex');
  const mask = Buffer.from(maskHex, 'hex');
  if (exp.length !== value.length || mask.length !== value.length) return false;
  return value.every((b, i) => (b & mask[i]!) === (exp[i]! & mask[i]!));
}

/**
 * Converges the platform status with the QE's or TDX module's (QVL semantics): an out-of-date
 * component makes an otherwise up-to-date platform OutOfDate, keeping "configuration needed".
 */
export function converge(platform: Matched, other: Matched): Matched {
  const advisoryIds = [...new Set([...platform.advisoryIds, ...other.advisoryIds])];
  const tcbDate = other.tcbDate < platform.tcbDate ? other.tcbDate : platform.tcbDate;
  let status = platform.status;
  if (other.status === 'Revoked') status = 'Revoked';
  else if (other.status === 'OutOfDate' && status !== 'Revoked') {
    status = status.startsWith('Configuration') || status === 'OutOfDateConfigurationNeeded' ? 'OutOfDateConfigurationNeeded' : 'OutOfDate';
  }
  return { status, tcbDate, advisoryIds };
}

/** The status of the first level whose SGX components and PCE SVN the platform meets (TDX ignored). */
export function sgxTcbStatus(info: TcbInfo, cpuComponents: readonly number[], pceSvn: number): TcbStatus | undefined {
  return info.tcbLevels.find((l) => l.tcb.sgxtcbcomponents.every((c, i) => (cpuComponents[i] ?? 0) >= c.svn) && pceSvn >= l.tcb.pcesvn)?.tcbStatus;
}

export interface RelaunchInputs {
  readonly sgx: TcbStatus | undefined;
  readonly tdx: TcbStatus;
  readonly module: TcbStatus | undefined;
  readonly qe: TcbStatus | undefined;
}

/**
 * TDX 1.5 (v5 quote, TD report 1.5): QVL's relaunch check with TEE_TCB_SVN2, the SVN of the
 * TDX module the TD would get if relaunched now. When the platform is OutOfDate only because of
 * the running TDX module and SVN2 already meets the latest TCB level (or, for module major
 * version > 0, the latest level of that module's identity), the status is TDRelaunchAdvised
 * (ConfigurationNeeded kept). Returns undefined when no relaunch status applies.
 */
export function relaunchStatus(info: TcbInfo, svn2: Uint8Array, s: RelaunchInputs): TcbStatus | undefined {
  if (s.qe === 'OutOfDate' || s.qe === 'Revoked') return undefined;
  const sgxOk = s.sgx === 'UpToDate' || s.sgx === 'SWHardeningNeeded' || s.sgx === 'ConfigurationNeeded' || s.sgx === 'ConfigurationAndSWHardeningNeeded';
  if (!sgxOk || (s.tdx !== 'OutOfDate' && s.tdx !== 'OutOfDateConfigurationNeeded') || s.module !== 'OutOfDate') return undefined;
  const latest = info.tcbLevels[0];
  if (latest === undefined) return fail('VERIFIER_TDX_TCB_LEVEL_NOT_FOUND', 'The TCB info has no TDX TCB level');
  const comp = (i: number): number => latest.tcb.tdxtcbcomponents?.[i]?.svn ?? 0;
  let minor: number;
  if (svn2[1] === 0) minor = comp(0);
  else {
    const id = `TDX_${svn2[1]!.toString(16).padStart(2, '0').toUpperCase()}`;
    const mod = info.tdxModuleIdentities?.find((m) => m.id === id);
    if (!mod) return fail('VERIFIER_TDX_MODULE_MISMATCH', `TCB info has no TDX module identity ${id} (TEE_TCB_SVN2)`);
    const top = mod.tcbLevels[0];
    if (!top) return fail('VERIFIER_TDX_TCB_LEVEL_NOT_FOUND', `TDX module identity ${id} has no TCB level`);
    minor = top.tcb.isvsvn;
  }
  if (svn2[0]! < minor || svn2[2]! < comp(2)) return undefined;
  const config = (x: TcbStatus | undefined): boolean => x !== undefined && /Configuration/.test(x);
  return config(s.sgx) || config(s.tdx) ? 'TDRelaunchAdvisedConfigurationNeeded' : 'TDRelaunchAdvised';
}
