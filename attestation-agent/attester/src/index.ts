/**
 * @kata-cc/attester: the Attester interface (evidence for one TEE, optional runtime
 * measurement and initdata binding), one folder per TEE, and the registry that detects the
 * platform and creates the matching attester. It does not talk to the KBS (that is
 * @kata-cc/kbs-client) and does not hash runtime data (that is @kata-cc/kbs-types).
 */
export type {
  Attester,
  AttesterDeps,
  DetectPlatform,
  InitDataBinding,
  MeasurementAlgorithm,
  RuntimeMeasurement,
} from './attester.js';
export type { Tee } from './tee.js';
export { ATTESTER_ERROR_CODES, attesterError, padReportData } from './errors.js';
export type { AttesterErrorCode } from './errors.js';
export { createAttester, detectAdditionalTees, detectTee, probedTees } from './registry.js';
export type { AttesterConfig, DetectTeeOptions } from './registry.js';
export { SAMPLE_REPORT_DATA_MAX, SampleAttester, detectSample } from './sample/sample.js';
export type { SampleEvidence } from './sample/sample.js';
export { DEFAULT_AK_HANDLE, INITDATA_PCR, TPM_REPORT_DATA_SIZE, TpmAttester, detectTpm, tpmQuoteEvidence } from './tpm/tpm.js';
export type { TpmAttesterConfig, TpmEvidence } from './tpm/tpm.js';
export { AAEL_PATH, CCEL_PATH, TdxAttester, detectTdx, quoteMrConfigId, rtmrForPcr } from './tdx/tdx.js';
export type { TdxAttesterConfig, TdxEvidence } from './tdx/tdx.js';
export { SnpAttester, detectSnp } from './snp/snp.js';
export type { SnpAttesterConfig, SnpEvidence } from './snp/snp.js';
export { SampleDeviceAttester, detectSampleDevice } from './sample-device/sample-device.js';
export type { SampleDeviceEvidence } from './sample-device/sample-device.js';
export { PROT_VIRT_GUEST, SE_HDR_TAGS_SIZE, SE_REPORT_DATA_SIZE, SeAttester, detectSe, parseSeRequest } from './se/se.js';
export type { SeAttestationRequest, SeAttesterConfig, SeEvidence } from './se/se.js';
export { UV_DEVICE, UVC_RC_EXECUTED, nativeUv, uvAttest } from './se/uv.js';
export type { UvAttestRequest, UvAttestResult, UvIoctl } from './se/uv.js';
export { SEV_GUEST_DEVICE, nativeSevGuest, parseSnpReportResponse, sevGuestExtReport, sevGuestReport, snpReportRequest } from './snp/sev-guest.js';
export type { ExtReport, SevGuestIoctl } from './snp/sev-guest.js';
