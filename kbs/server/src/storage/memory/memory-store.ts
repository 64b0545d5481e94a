import type { KbsStore, PolicyKind, Session, SessionLimit, StoredReferenceValue } from '../store.js';

/** In-process store for tests and `--storage memory:`; nothing survives a restart. */
export class MemoryStore implements KbsStore {
  readonly kind = 'memory' as const;
  readonly #sessions = new Map<string, Session>();
  readonly #resources = new Map<string, Uint8Array>();
  readonly #policies = new Map<string, string>();
  readonly #refs = new Map<string, StoredReferenceValue>();
  readonly #secrets = new Map<string, string>();

  async createSession(s: Session, limit?: SessionLimit): Promise<boolean> {
    // The map size bounds the live count from above: sweep (O(n)) only when it could be over.
    if (limit !== undefined && this.#sessions.size >= limit.maxLive) {
      await this.deleteExpiredSessions(limit.now);
      if (this.#sessions.size >= limit.maxLive) return false;
    }
    this.#sessions.set(s.id, { ...s });
    return true;
  }
  async countLiveSessions(now: number): Promise<number> {
    let n = 0;
    for (const s of this.#sessions.values()) if (s.expiresAt > now) n++;
    return n;
  }
  async getSession(id: string): Promise<Session | undefined> {
    const s = this.#sessions.get(id);
    return s === undefined ? undefined : { ...s };
  }
  async markAttested(id: string, token: string, now: number): Promise<boolean> {
    const s = this.#sessions.get(id);
    if (s === undefined || s.state !== 'authed' || s.expiresAt <= now) return false;
    s.state = 'attested';
    s.token = token;
    return true;
  }
  async deleteExpiredSessions(now: number): Promise<number> {
    let n = 0;
    for (const [id, s] of this.#sessions) {
      if (s.expiresAt <= now) {
        this.#sessions.delete(id);
        n++;
      }
    }
    return n;
  }
  async deleteSession(id: string): Promise<void> {
    this.#sessions.delete(id);
  }
  async putResource(path: string, data: Uint8Array): Promise<void> {
    this.#resources.set(path, new Uint8Array(data));
  }
  async getResource(path: string): Promise<Uint8Array | undefined> {
    return this.#resources.get(path);
  }
  async deleteResource(path: string): Promise<boolean> {
    return this.#resources.delete(path);
  }
  async putPolicy(kind: PolicyKind, id: string, body: string): Promise<void> {
    this.#policies.set(`${kind}\0${id}`, body);
  }
  async getPolicy(kind: PolicyKind, id: string): Promise<string | undefined> {
    return this.#policies.get(`${kind}\0${id}`);
  }
  async listPolicies(kind: PolicyKind): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.#policies) if (k.startsWith(`${kind}\0`)) out[k.slice(kind.length + 1)] = v;
    return out;
  }
  async putReferenceValues(values: StoredReferenceValue[]): Promise<void> {
    for (const v of values) this.#refs.set(v.name, { ...v });
  }
  async getReferenceValue(name: string, now: number): Promise<StoredReferenceValue | undefined> {
    const v = this.#refs.get(name);
    return v !== undefined && v.expiresAt > now ? v : undefined;
  }
  async listReferenceValues(now: number): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const v of this.#refs.values()) if (v.expiresAt > now) out[v.name] = v.values;
    return out;
  }
  async getOrCreateSecret(name: string, create: () => string): Promise<string> {
    let v = this.#secrets.get(name);
    if (v === undefined) {
      v = create();
      this.#secrets.set(name, v);
    }
    return v;
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
