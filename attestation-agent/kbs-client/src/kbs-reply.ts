import { kbsErrorVariantOf, parseJson } from '@kata-cc/kbs-types';
import type { KccError } from '@kata-cc/errors';
import { kbcError, type KbcErrorCode } from './errors.js';
import type { HttpReply } from './http.js';

/** The KBS `ErrorInformation` of a failed reply, when the body carries one. */
export function errorInformation(reply: HttpReply): { type: string; detail: string } | undefined {
  try {
    const v = parseJson(reply.body) as Record<string, unknown> | null;
    if (v !== null && typeof v === 'object' && typeof v['type'] === 'string') {
      return { type: v['type'], detail: typeof v['detail'] === 'string' ? v['detail'] : '' };
    }
  } catch {
    // not JSON: fall through
  }
  return undefined;
}

/**
 * Turns a non-2xx KBS reply into a KccError naming the step, the status, the KBS error variant
 * and its detail (trustee's details never carry secrets; they are clipped all the same).
 */
export function replyError(code: KbcErrorCode, action: string, reply: HttpReply): KccError {
  const info = errorInformation(reply);
  const variant = info === undefined ? undefined : (kbsErrorVariantOf(info.type) ?? info.type);
  const detail = info?.detail.slice(0, 500);
  const why = info === undefined ? `HTTP ${reply.status}` : `HTTP ${reply.status} ${variant}: ${detail}`;
  return kbcError(code, `KBS refused ${action} (${why})`, {
    details: { status: reply.status, ...(variant === undefined ? {} : { kbsError: variant }) },
  });
}

/** Parses a JSON reply body; a KBS that answers 200 with something else is a protocol error. */
export function replyJson(action: string, reply: HttpReply): unknown {
  try {
    return parseJson(reply.body);
  } catch (cause) {
    throw kbcError('KBC_PROTOCOL_ERROR', `Cannot parse the KBS reply to ${action}: not JSON`, { cause });
  }
}

/**
 * The error for a resource request the KBS still refuses after re-attesting: trustee answers
 * 401 for everything, so the variant tells a policy denial and a missing resource apart from
 * an authentication failure.
 */
export function resourceRefusal(path: string, reply: HttpReply): KccError {
  const info = errorInformation(reply);
  const variant = info === undefined ? undefined : kbsErrorVariantOf(info.type);
  if (variant === 'PolicyDeny') return replyError('KBC_POLICY_DENIED', `the resource request ${path}`, reply);
  if (variant === 'PluginInternalError' && /not found/i.test(info?.detail ?? '')) return replyError('KBC_RESOURCE_NOT_FOUND', `the resource request ${path}`, reply);
  return replyError('KBC_UNAUTHORIZED', `the resource request ${path}`, reply);
}
