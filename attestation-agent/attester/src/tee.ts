/**
 * The TEE names of the KBS protocol (kbs-types `Tee`, serde names).
 *
 * Note to future maintainers: this is a copy of `Tee` from `@kata-cc/kbs-types`, kept only
 * until that package publishes it; then this file becomes a re-export.
 */
export type Tee =
  | 'az-snp-vtpm'
  | 'az-tdx-vtpm'
  | 'nvidia'
  | 'sgx'
  | 'snp'
  | 'tdx'
  | 'cca'
  | 'csv'
  | 'se'
  | 'hygondcu'
  | 'tpm'
  | 'sample'
  | 'sampledevice'
  | 'nvidiadpu';
