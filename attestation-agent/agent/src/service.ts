import type { Attester, InitDataBinding } from '@kata-cc/attester';
import { isKccError } from '@kata-cc/errors';
import type { KbsClient } from '@kata-cc/kbs-client';
import { silentLogger, type Logger } from '@kata-cc/log';
import type { AaConfig } from './config.js';
import { aaError } from './errors.js';
import type { AaelEvent, EventLog } from './eventlog.js';
import type { InitData } from './initdata.js';

/** GetToken("kbs") reply body, as guest-components' AA returns it (CDH reads both fields). */
export interface KbsTokenReply {
  token: string;
  /** PEM private key of the TEE key the token carries; the CDH decrypts resources with it. */
  tee_keypair: string;
}

export interface AttestationAgentDeps {
  attester: Attester;
  /** Device attesters (GetAdditionalEvidence, and `additional_evidence` in KBS attestation). */
  additionalAttesters?: readonly Attester[];
  /** Present when `[eventlog_config] enable_eventlog = true`. */
  eventlog?: EventLog;
  logger?: Logger;
}

/**
 * The attestation agent service (guest-components `AttestationAPIs`), transport-neutral: the
 * ttRPC adapter (`ttrpc.ts`) decodes requests and calls these methods.
 */
export class AttestationAgent {
  readonly #config: AaConfig;
  readonly #initData: InitData | undefined;
  readonly #deps: AttestationAgentDeps;
  readonly #log: Logger;
  #kbs: KbsClient | undefined;

  constructor(config: AaConfig, initData: InitData | undefined, deps: AttestationAgentDeps) {
    this.#config = config;
    this.#initData = initData;
    this.#deps = deps;
    this.#log = (deps.logger ?? silentLogger).child({ component: 'attestation-agent' });
  }

  /** The primary TEE (GetTeeType). */
  get tee(): string {
    return this.#deps.attester.tee;
  }

  /**
   * GetEvidence: the primary evidence JSON (UTF-8) with `runtimeData` as report data, passed
   * as is (the attester pads it, and refuses more than its field holds).
   */
  async getEvidence(runtimeData: Uint8Array): Promise<Uint8Array> {
    const evidence = await this.#deps.attester.getEvidence(runtimeData);
    return Buffer.from(JSON.stringify(evidence), 'utf8');
  }

  /** GetAdditionalEvidence: JSON `{"<tee>": evidence}` of the device attesters, empty without any. */
  async getAdditionalEvidence(runtimeData: Uint8Array): Promise<Uint8Array> {
    const { deviceEvidence } = await import('@kata-cc/kbs-client');
    return Buffer.from(await deviceEvidence(this.#deps.additionalAttesters ?? [], runtimeData), 'utf8');
  }

  /** GetAdditionalTees. */
  getAdditionalTees(): string[] {
    return (this.#deps.additionalAttesters ?? []).map((a) => a.tee);
  }

  /**
   * GetToken: for "kbs", a fresh RCAR handshake with the configured KBS and the TEE private
   * key, JSON `{"token", "tee_keypair"}`. Never a cached token, as guest-components' AA: the
   * caller (the CDH) caches it and asks again only when the KBS refuses it (401), e.g. after
   * the KBS restarted with another token-signing key; a cached answer would refuse it forever.
   */
  async getToken(tokenType: string): Promise<Uint8Array> {
    if (tokenType !== 'kbs') {
      throw aaError('AA_UNSUPPORTED_TOKEN_TYPE', `Unsupported token type "${tokenType}": this attestation agent issues "kbs" tokens only`);
    }
    const client = await this.#kbsClient();
    const token = await client.attest();
    const reply: KbsTokenReply = { token, tee_keypair: client.teeKey.privateKeyPem() };
    return Buffer.from(JSON.stringify(reply), 'utf8');
  }

  /** ExtendRuntimeMeasurement: appends an AAEL event and extends the register of `pcr` (default init_pcr). */
  async extendRuntimeMeasurement(event: AaelEvent, pcr?: number): Promise<void> {
    if (this.#deps.attester.runtimeMeasurement === undefined) {
      throw aaError('AA_MEASUREMENT_UNSUPPORTED', `Cannot extend a runtime measurement: the ${this.tee} attester has no runtime measurement registers`);
    }
    const log = this.#deps.eventlog;
    if (log === undefined) throw aaError('AA_EVENTLOG_DISABLED', 'Cannot extend a runtime measurement: the event log is disabled ([eventlog_config] enable_eventlog = false)');
    if (pcr !== undefined && (!Number.isInteger(pcr) || pcr < 0 || pcr > 23)) throw aaError('AA_INVALID_EVENT', `Invalid register index ${pcr}: expected a PCR index 0..23`);
    await log.extend(event, pcr ?? log.defaultPcr);
    this.#log.info({ domain: event.domain, operation: event.operation, pcr: pcr ?? log.defaultPcr }, 'runtime measurement extended');
  }

  /** BindInitData: checks `digest` against the TEE's launch-time field. */
  async bindInitData(digest: Uint8Array): Promise<InitDataBinding> {
    const bind = this.#deps.attester.bindInitData;
    if (bind === undefined) return 'unsupported';
    try {
      return await bind.call(this.#deps.attester, digest);
    } catch (err) {
      if (isKccError(err) && err.code === 'ATTESTER_INITDATA_MISMATCH') {
        throw aaError('AA_INITDATA_MISMATCH', `Initdata digest does not match the ${this.tee} launch measurement field`, { cause: err });
      }
      throw err;
    }
  }

  /** Closes the KBS connection and the event log. */
  async close(): Promise<void> {
    await this.#kbs?.close();
    await this.#deps.eventlog?.close();
  }

  async #kbsClient(): Promise<KbsClient> {
    if (this.#kbs !== undefined) return this.#kbs;
    // The KBS client (HTTP, JOSE) loads on the first GetToken: not every guest talks to a KBS.
    const { KbsClient } = await import('@kata-cc/kbs-client');
    if (this.#kbs !== undefined) return this.#kbs;
    const kbs = this.#config.kbs;
    if (kbs === undefined) throw aaError('AA_NO_KBS_CONFIGURED', 'Cannot get a KBS token: no [token_configs.kbs] url is configured (aa.toml or AA_KBC_PARAMS)');
    this.#kbs = new KbsClient(
      {
        url: kbs.url,
        teeKeyAlgorithm: kbs.teeKeyAlgorithm,
        ...(kbs.cert === undefined ? {} : { cert: kbs.cert }),
        ...(this.#initData === undefined ? {} : { initData: this.#initData.text }),
      },
      { attester: this.#deps.attester, ...(this.#deps.additionalAttesters === undefined ? {} : { additionalAttesters: this.#deps.additionalAttesters }), logger: this.#log },
    );
    return this.#kbs;
  }
}
