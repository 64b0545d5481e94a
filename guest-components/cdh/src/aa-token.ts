import type { TokenAndKey } from '@kata-cc/kbs-client';
import { loadProtos } from '@kata-cc/protocols';
import { TtrpcClient, protobufCodec, type ProtobufType } from '@kata-cc/ttrpc';
import { cdhError } from './errors.js';

const AA_SERVICE = 'attestation_agent.AttestationAgentService';

let root: ReturnType<typeof loadProtos> | undefined;
function aaType<T>(name: string): ReturnType<typeof protobufCodec<T>> {
  root ??= loadProtos('attestation-agent/attestation-agent.proto');
  return protobufCodec<T>(root.lookupType(`attestation_agent.${name}`) as unknown as ProtobufType);
}

/**
 * Gets KBS tokens from the attestation agent (passport mode, as guest-components' CDH does):
 * `GetToken("kbs")` over ttRPC returns `{"token", "tee_keypair"}`. Works with our AA and the
 * Rust one. Connects lazily and reconnects after the AA restarts.
 */
export class AaTokenSource {
  readonly #address: string;
  #client: TtrpcClient | undefined;

  constructor(aaSocket: string) {
    this.#address = aaSocket;
  }

  /** A fresh or cached token (the AA caches it until expiry) and its TEE key. */
  async getToken(): Promise<TokenAndKey> {
    let reply: { Token: Buffer };
    try {
      if (this.#client === undefined || this.#client.closed) this.#client = await TtrpcClient.connect(this.#address);
      reply = await this.#client.request<{ TokenType: string }, { Token: Buffer }>(AA_SERVICE, 'GetToken', aaType('GetTokenRequest'), aaType('GetTokenResponse'), { TokenType: 'kbs' }, { timeoutMs: 120_000 });
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw cdhError('CDH_AA_UNAVAILABLE', `Cannot get a KBS token from the attestation agent at ${this.#address}: ${reason}`, { cause });
    }
    let parsed: { token?: unknown; tee_keypair?: unknown };
    try {
      parsed = JSON.parse(reply.Token.toString('utf8')) as typeof parsed;
    } catch (cause) {
      throw cdhError('CDH_AA_UNAVAILABLE', 'Cannot parse the attestation agent GetToken reply: not JSON', { cause });
    }
    if (typeof parsed.token !== 'string' || typeof parsed.tee_keypair !== 'string') {
      throw cdhError('CDH_AA_UNAVAILABLE', 'Cannot use the attestation agent GetToken reply: "token" or "tee_keypair" missing');
    }
    const { TeeKeyPair } = await import('@kata-cc/kbs-client');
    return { token: parsed.token, teeKey: TeeKeyPair.fromPem(parsed.tee_keypair) };
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}
