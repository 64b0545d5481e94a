/** Prefix of every KBS error `type` URL (trustee `kbs/src/error.rs`). */
export const KBS_ERROR_TYPE_PREFIX = 'https://github.com/confidential-containers/kbs/errors/';

/** Error variants of trustee's KBS. Only `InvalidRequestPath` and `PluginNotFound` are 404. */
export const KBS_ERROR_VARIANTS = [
  'AdminAuthInitialization',
  'AdminAuthAccess',
  'AttestationError',
  'HTTPFailed',
  'HTTPSFailed',
  'InvalidRequestPath',
  'JweError',
  'PluginManagerInitialization',
  'PluginNotFound',
  'PluginInternalError',
  'PolicyDeny',
  'ParsePolicyError',
  'PolicyEngineError',
  'RvpsError',
  'SerdeError',
  'StorageBackendInitialization',
  'TokenNotFound',
  'TokenVerifierError',
  'PrometheusError',
] as const;

export type KbsErrorVariant = (typeof KBS_ERROR_VARIANTS)[number];

export function kbsErrorType(variant: KbsErrorVariant): string {
  return `${KBS_ERROR_TYPE_PREFIX}${variant}`;
}

/** HTTP status of a variant, as trustee maps it. */
export function kbsErrorStatus(variant: KbsErrorVariant): 401 | 404 {
  return variant === 'InvalidRequestPath' || variant === 'PluginNotFound' ? 404 : 401;
}

/** The variant named by a `type` URL, or undefined for a foreign URL. */
export function kbsErrorVariantOf(type: string): KbsErrorVariant | undefined {
  if (!type.startsWith(KBS_ERROR_TYPE_PREFIX)) return undefined;
  const name = type.slice(KBS_ERROR_TYPE_PREFIX.length);
  return (KBS_ERROR_VARIANTS as readonly string[]).includes(name) ? (name as KbsErrorVariant) : undefined;
}
