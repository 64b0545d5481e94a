/**
 * What the two Azure vTPM attesters share (guest-components `az_snp_vtpm`/`az_tdx_vtpm`, built
 * on Microsoft's az-cvm-vtpm): the HCL report from vTPM NV index 0x01400001, a vTPM quote by
 * the HCL attestation key (persistent handle 0x81000003) over SHA-256 PCRs 0-23 whose nonce is
 * the report data as given (not padded), and the instance metadata service (IMDS).
 */
import { openTransport, Tpm2 } from './tpm2.js';
import { attesterError } from '../errors.js';

export const HCL_REPORT_NV_INDEX = 0x01400001;
export const AZURE_AK_HANDLE = 0x81000003;
export const IMDS_URL = 'http://169.254.169.254';
const ALL_PCRS = Array.from({ length: 24 }, (_, i) => i);

export interface AzQuote {
  signature: string;
  message: string;
  pcrs: string[];
}

export interface AzureTpmConfig {
  /** TPM device (default /dev/tpmrm0, env AA_TPM_DEVICE; `tcp://host:port` for swtpm). */
  device?: string;
  /** IMDS base URL (tests point it at a fake). */
  imdsUrl?: string;
}

export function tpmDevice(config: AzureTpmConfig, root: string, env: Readonly<Record<string, string | undefined>>): string {
  const d = config.device ?? env['AA_TPM_DEVICE'] ?? '/dev/tpmrm0';
  return d.startsWith('tcp://') ? d : `${root}${d}`;
}

export async function withTpm<T>(device: string, fn: (tpm: Tpm2) => Promise<T>): Promise<T> {
  const tpm = new Tpm2(await openTransport(device));
  try {
    return await fn(tpm);
  } finally {
    await tpm.close();
  }
}

/** HCL report type (IGVM request data at 0x4C0 + 8): 2 = SNP, 4 = TDX; undefined if not an HCL report. */
export function hclType(hcl: Uint8Array): 'snp' | 'tdx' | undefined {
  if (hcl.length < 0x4c0 + 12 || Buffer.from(hcl.subarray(0, 4)).toString('latin1') !== 'HCLA') return undefined;
  const t = Buffer.from(hcl.buffer, hcl.byteOffset, hcl.byteLength).readUInt32LE(0x4c0 + 8);
  return t === 2 ? 'snp' : t === 4 ? 'tdx' : undefined;
}

/** The HCL report and a vTPM quote over `nonce`, in the hex form trustee's az verifiers read. */
export async function hclAndQuote(tpm: Tpm2, nonce: Uint8Array): Promise<{ hcl: Buffer; quote: AzQuote }> {
  if (nonce.length > 64) throw attesterError('ATTESTER_REPORT_DATA_TOO_LONG', `Cannot bind ${nonce.length} bytes in a vTPM quote nonce (64 at most)`);
  const hcl = await tpm.nvRead(HCL_REPORT_NV_INDEX);
  const { attest, signature } = await tpm.quote(AZURE_AK_HANDLE, nonce, ALL_PCRS);
  const pcrs = await tpm.pcrRead(ALL_PCRS);
  // TPMT_SIGNATURE (RSASSA): alg u16, hash u16, size u16, signature; Azure sends the raw signature.
  const raw = signature.readUInt16BE(0) === 0x0014 ? signature.subarray(6) : signature;
  return { hcl, quote: { signature: raw.toString('hex'), message: attest.toString('hex'), pcrs: ALL_PCRS.map((i) => pcrs.get(i)!.toString('hex')) } };
}

export async function imds(base: string, pathAndQuery: string, init: RequestInit = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${base.replace(/\/+$/, '')}${pathAndQuery}`, { ...init, headers: { Metadata: 'true', ...(init.headers ?? {}) }, signal: AbortSignal.timeout(30_000) });
  } catch (cause) {
    throw attesterError('ATTESTER_EVIDENCE_FAILED', `Cannot reach the Azure instance metadata service at ${base}`, { cause });
  }
  if (!res.ok) throw attesterError('ATTESTER_EVIDENCE_FAILED', `Azure IMDS ${pathAndQuery} answered HTTP ${res.status}`);
  return res.json();
}

/** Detection: a TPM whose NV index 0x01400001 holds an HCL report of `type`. */
export async function detectAzure(device: string, type: 'snp' | 'tdx'): Promise<boolean> {
  try {
    return await withTpm(device, async (tpm) => hclType(await tpm.nvRead(HCL_REPORT_NV_INDEX)) === type);
  } catch {
    return false;
  }
}
