import { imgError } from '../errors.js';
import { parseChallenges, type Challenge } from './challenge.js';
import type { Credentials } from './credentials.js';
import type { Transport } from './transport.js';

interface CachedToken {
  value: string;
  expiresAt: number;
}

/**
 * The distribution auth flow: anonymous first; on 401 the `WWW-Authenticate` challenge says
 * Basic (send credentials) or Bearer (get a token from the realm: OAuth2 POST with credentials
 * as containerd does, falling back to the docker GET flow). Tokens are cached per scope.
 */
export class Authenticator {
  readonly #transport: Transport;
  readonly #creds: (registry: string, repository: string) => Credentials | undefined;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #schemes = new Map<string, Challenge>();

  constructor(transport: Transport, creds: (registry: string, repository: string) => Credentials | undefined) {
    this.#transport = transport;
    this.#creds = creds;
  }

  /** The Authorization header to send proactively (after a first challenge), if any. */
  header(registry: string, repository: string): string | undefined {
    const ch = this.#schemes.get(registry);
    if (ch === undefined) return undefined;
    if (ch.scheme === 'basic') return basic(this.#creds(registry, repository));
    const tok = this.#tokens.get(`${registry}|${scopeFor(repository)}`);
    if (tok !== undefined && tok.expiresAt > Date.now()) return `Bearer ${tok.value}`;
    return undefined;
  }

  /** Answers a 401: returns the header to retry with, or throws IMG_REGISTRY_UNAUTHORIZED. */
  async respond(registry: string, repository: string, wwwAuthenticate: string | undefined): Promise<string> {
    const challenges = parseChallenges(wwwAuthenticate ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basicCh = challenges.find((c) => c.scheme === 'basic');
    const creds = this.#creds(registry, repository);
    if (bearer !== undefined) {
      this.#schemes.set(registry, bearer);
      const scope = scopeFor(repository);
      const tok = await this.#fetchToken(registry, bearer, scope, creds);
      this.#tokens.set(`${registry}|${scope}`, tok);
      return `Bearer ${tok.value}`;
    }
    if (basicCh !== undefined) {
      this.#schemes.set(registry, basicCh);
      const h = basic(creds);
      if (h === undefined) {
        throw imgError('IMG_REGISTRY_UNAUTHORIZED', `Registry ${registry} requires credentials (Basic auth) and none are configured for ${registry}/${repository}`);
      }
      return h;
    }
    throw imgError('IMG_REGISTRY_UNAUTHORIZED', `Registry ${registry} answered 401 without a supported WWW-Authenticate challenge`);
  }

  async #fetchToken(registry: string, ch: Challenge, scope: string, creds: Credentials | undefined): Promise<CachedToken> {
    const realm = ch.params['realm'];
    if (realm === undefined) throw imgError('IMG_REGISTRY_UNAUTHORIZED', `Registry ${registry} sent a Bearer challenge without a realm`);
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw imgError('IMG_REGISTRY_UNAUTHORIZED', `Registry ${registry} sent an invalid token realm`);
    }
    // SECURITY: credentials go to a token realm over TLS only, unless the registry itself is insecure.
    if (realmUrl.protocol !== 'https:' && !(realmUrl.protocol === 'http:' && this.#transport.isInsecure(registry))) {
      throw imgError('IMG_INSECURE_REGISTRY', `Token realm ${realmUrl.origin} of ${registry} is not HTTPS; add the registry to the insecure list to allow it`);
    }
    const service = ch.params['service'];
    const scopes = [scope, ...(ch.params['scope'] !== undefined && ch.params['scope'] !== scope ? [ch.params['scope']] : [])];
    if (creds !== undefined) {
      // OAuth2 password grant (docker/distribution token spec, used by containerd).
      const form = new URLSearchParams({ grant_type: 'password', username: creds.username, password: creds.password.reveal(), client_id: 'kata-cc-image-rs' });
      if (service !== undefined) form.set('service', service);
      form.set('scope', scopes.join(' '));
      const res = await this.#transport.request('POST', realmUrl, { 'content-type': 'application/x-www-form-urlencoded' }, form.toString());
      if (res.statusCode === 200) return readToken(res, registry);
      await res.body.dump();
      if (res.statusCode !== 404 && res.statusCode !== 405 && res.statusCode !== 400) {
        throw imgError('IMG_REGISTRY_UNAUTHORIZED', `Token server ${realmUrl.origin} refused the credentials for ${registry} (HTTP ${res.statusCode})`);
      }
    }
    // Docker token GET flow: Basic credentials (if any) plus account=.
    const url = new URL(realmUrl);
    if (service !== undefined) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (creds !== undefined) {
      url.searchParams.set('account', creds.username);
      headers['authorization'] = basic(creds) ?? '';
    }
    const res = await this.#transport.request('GET', url, headers);
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw imgError('IMG_REGISTRY_UNAUTHORIZED', `Token server ${realmUrl.origin} refused a token for ${registry} (HTTP ${res.statusCode})`);
    }
    return readToken(res, registry);
  }
}

async function readToken(res: { body: { text(): Promise<string> } }, registry: string): Promise<CachedToken> {
  let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    parsed = JSON.parse(await res.body.text()) as typeof parsed;
  } catch {
    throw imgError('IMG_REGISTRY_UNAUTHORIZED', `Token server of ${registry} returned invalid JSON`);
  }
  // `null` or a scalar is valid JSON but no token answer (reading .token from null would throw a TypeError).
  if (typeof parsed !== 'object' || parsed === null) throw imgError('IMG_REGISTRY_UNAUTHORIZED', `Token server of ${registry} returned no token`);
  const value = typeof parsed.token === 'string' ? parsed.token : parsed.access_token;
  if (typeof value !== 'string' || value === '') throw imgError('IMG_REGISTRY_UNAUTHORIZED', `Token server of ${registry} returned no token`);
  const ttl = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
  // Renew 10 s early so a token does not expire in flight.
  return { value, expiresAt: Date.now() + Math.max(ttl - 10, 5) * 1000 };
}

function basic(creds: Credentials | undefined): string | undefined {
  if (creds === undefined) return undefined;
  return `Basic ${Buffer.from(`${creds.username}:${creds.password.reveal()}`).toString('base64')}`;
}

export function scopeFor(repository: string): string {
  return `repository:${repository}:pull`;
}
