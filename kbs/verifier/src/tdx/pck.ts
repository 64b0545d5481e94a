/**
 * The Intel SGX PCK certificate extension (OID 1.2.840.113741.1.13.1, "SGX PCK Certificate
 * and CRL Profile"): FMSPC, PCE ID, the platform TCB (16 CPU SVN components + PCE SVN) and
 * the platform instance / configuration of multi-package platforms.
 */
import { KccError } from '@kata-cc/errors';
import { TAG, children, intValue, oidToString, parseDer } from '../common/der.js';
import { toHex } from '../common/bytes.js';
import type { Certificate } from '../common/x509.js';

const SGX_EXT = '1.2.840.113741.1.13.1';

export interface PckExtensions {
  readonly ppid: string;
  readonly fmspc: string;
  readonly pceId: string;
  readonly pceSvn: number;
  readonly cpuSvn: string;
  /** The 16 SGX TCB component SVNs. */
  readonly components: readonly number[];
  readonly sgxType: number;
  readonly platformInstanceId?: string;
  readonly dynamicPlatform?: boolean;
  readonly cachedKeys?: boolean;
  readonly smtEnabled?: boolean;
}

export function parsePckExtensions(cert: Certificate): PckExtensions {
  const ext = cert.extensions.get(SGX_EXT);
  if (!ext) {
    throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_TDX_PCK_EXTENSION_MISSING', message: 'PCK certificate has no SGX extension' });
  }
  try {
    const out: Record<string, unknown> = {};
    const components: number[] = new Array<number>(16).fill(0);
    for (const item of children(parseDer(ext.value))) {
      const [oidNode, val] = children(item);
      const oid = oidToString(oidNode!.value).slice(SGX_EXT.length + 1);
      switch (oid) {
        case '1': out['ppid'] = toHex(val!.value); break;
        case '2':
          for (const comp of children(val!)) {
            const [o, v] = children(comp);
            const n = Number(oidToString(o!.value).split('.').pop());
            if (n >= 1 && n <= 16) components[n - 1] = intValue(v!.value);
            else if (n === 17) out['pceSvn'] = intValue(v!.value);
            else if (n === 18) out['cpuSvn'] = toHex(v!.value);
          }
          break;
        case '3': out['pceId'] = toHex(val!.value); break;
        case '4': out['fmspc'] = toHex(val!.value); break;
        case '5': out['sgxType'] = intValue(val!.value); break;
        case '6': out['platformInstanceId'] = toHex(val!.value); break;
        case '7':
          for (const flag of children(val!)) {
            const [o, v] = children(flag);
            const key = { '1': 'dynamicPlatform', '2': 'cachedKeys', '3': 'smtEnabled' }[oidToString(o!.value).split('.').pop() ?? ''];
            if (key && v?.tag === TAG.BOOLEAN) out[key] = v.value[0] !== 0;
          }
          break;
        default: break;
      }
    }
    if (typeof out['fmspc'] !== 'string' || typeof out['pceId'] !== 'string' || typeof out['pceSvn'] !== 'number') {
      throw new Error('FMSPC, PCE ID or PCE SVN missing');
    }
    return { ppid: '', cpuSvn: '', sgxType: 0, ...out, components } as unknown as PckExtensions;
  } catch (err) {
    throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_TDX_PCK_EXTENSION_MALFORMED', message: 'PCK certificate SGX extension cannot be parsed', cause: err });
  }
}
