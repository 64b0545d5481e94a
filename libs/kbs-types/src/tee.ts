/**
 * TEE names exactly as kbs-types 0.18 serializes enum `Tee` (serde names). Only the primary
 * TEE appears in `Request.tee`; device TEEs appear as keys of `additional_evidence`.
 */
export const TEES = [
  'az-snp-vtpm',
  'az-tdx-vtpm',
  'nvidia',
  'sgx',
  'snp',
  'tdx',
  'cca',
  'csv',
  'se',
  'hygondcu',
  'tpm',
  'sample',
  'sampledevice',
  'nvidiadpu',
] as const;

export type Tee = (typeof TEES)[number];

/** True when `value` is one of the wire TEE names. */
export function isTee(value: unknown): value is Tee {
  return typeof value === 'string' && (TEES as readonly string[]).includes(value);
}

/** Class of a TEE as the attestation service names EAR submods (`cpu0`, `gpu0`, ...). */
export type TeeClass = 'cpu' | 'gpu' | 'dcu' | 'switch' | 'ppcie';

/** TEEs that exist only for testing a KBS without hardware; production defaults refuse them. */
export function isSampleTee(tee: Tee): boolean {
  return tee === 'sample' || tee === 'sampledevice';
}
