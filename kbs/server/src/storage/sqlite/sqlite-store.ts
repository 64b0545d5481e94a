import Database from 'better-sqlite3';
import { KccError, messageOf } from '@kata-cc/errors';
import type { Tee } from '@kata-cc/kbs-types';
import { schemaSql } from '../schema.js';
import type { KbsStore, PolicyKind, Session, SessionLimit, StoredReferenceValue } from '../store.js';

interface SessionRow {
  id: string;
  tee: string;
  nonce: string;
  state: string;
  token: string | null;
  expires_at: number | bigint;
}

/**
 * One SQLite file in WAL mode. Admin writes (resources, policies, reference values, secrets)
 * run with `synchronous = FULL`: fsynced before the call returns, so they survive `kill -9`
 * and power loss. Session writes run with `NORMAL`: in WAL mode they survive a process crash
 * (`kill -9`) but may be lost on power loss, which only costs a client a new handshake.
 */
export class SqliteStore implements KbsStore {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #stmts = new Map<string, Database.Statement>();

  /** Prepared once per SQL text: compiling a statement costs more than running it. */
  #q(sql: string): Database.Statement {
    let st = this.#stmts.get(sql);
    if (st === undefined) {
      st = this.#db.prepare(sql);
      this.#stmts.set(sql, st);
    }
    return st;
  }

  constructor(file: string) {
    try {
      this.#db = new Database(file);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = NORMAL');
      this.#db.pragma('busy_timeout = 5000');
      for (const sql of schemaSql('BLOB')) this.#db.exec(sql);
    } catch (e) {
      throw new KccError({ kind: 'UNAVAILABLE', code: 'KBS_STORAGE_INIT', message: `Cannot open the SQLite store: ${messageOf(e)}`, cause: e });
    }
  }

  async createSession(s: Session, limit?: SessionLimit): Promise<boolean> {
    if (limit === undefined) {
      this.#q('INSERT INTO kbs_sessions (id, tee, nonce, state, token, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(s.id, s.tee, s.nonce, s.state, s.token ?? null, s.expiresAt);
      return true;
    }
    // One statement: the count and the insert are atomic (SQLite serializes writers).
    const r = this.#q(
      'INSERT INTO kbs_sessions (id, tee, nonce, state, token, expires_at) SELECT ?, ?, ?, ?, ?, ? WHERE (SELECT count(*) FROM kbs_sessions WHERE expires_at > ?) < ?',
    ).run(s.id, s.tee, s.nonce, s.state, s.token ?? null, s.expiresAt, limit.now, limit.maxLive);
    return r.changes === 1;
  }
  async countLiveSessions(now: number): Promise<number> {
    const r = this.#q('SELECT count(*) AS n FROM kbs_sessions WHERE expires_at > ?').get(now) as { n: number | bigint };
    return Number(r.n);
  }
  async getSession(id: string): Promise<Session | undefined> {
    const r = this.#q('SELECT * FROM kbs_sessions WHERE id = ?').get(id) as SessionRow | undefined;
    return r === undefined ? undefined : rowToSession(r);
  }
  async markAttested(id: string, token: string, now: number): Promise<boolean> {
    const r = this.#q("UPDATE kbs_sessions SET state = 'attested', token = ? WHERE id = ? AND state = 'authed' AND expires_at > ?").run(token, id, now);
    return r.changes === 1;
  }
  async deleteExpiredSessions(now: number): Promise<number> {
    return this.#q('DELETE FROM kbs_sessions WHERE expires_at <= ?').run(now).changes;
  }
  async deleteSession(id: string): Promise<void> {
    this.#q('DELETE FROM kbs_sessions WHERE id = ?').run(id);
  }

  /** Runs an admin write with full fsync (better-sqlite3 is synchronous: no interleaving). */
  #durable(fn: () => void): void {
    this.#db.pragma('synchronous = FULL');
    try {
      fn();
    } finally {
      this.#db.pragma('synchronous = NORMAL');
    }
  }

  async putResource(path: string, data: Uint8Array): Promise<void> {
    this.#durable(() => this.#q('INSERT INTO kbs_resources (path, data) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET data = excluded.data').run(path, Buffer.from(data)));
  }
  async getResource(path: string): Promise<Uint8Array | undefined> {
    const r = this.#q('SELECT data FROM kbs_resources WHERE path = ?').get(path) as { data: Buffer } | undefined;
    return r === undefined ? undefined : new Uint8Array(r.data);
  }
  async deleteResource(path: string): Promise<boolean> {
    let changed = false;
    this.#durable(() => {
      changed = this.#q('DELETE FROM kbs_resources WHERE path = ?').run(path).changes === 1;
    });
    return changed;
  }
  async putPolicy(kind: PolicyKind, id: string, body: string): Promise<void> {
    this.#durable(() => this.#q('INSERT INTO kbs_policies (kind, id, body) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body').run(kind, id, body));
  }
  async getPolicy(kind: PolicyKind, id: string): Promise<string | undefined> {
    const r = this.#q('SELECT body FROM kbs_policies WHERE kind = ? AND id = ?').get(kind, id) as { body: string } | undefined;
    return r?.body;
  }
  async listPolicies(kind: PolicyKind): Promise<Record<string, string>> {
    const rows = this.#q('SELECT id, body FROM kbs_policies WHERE kind = ? ORDER BY id').all(kind) as Array<{ id: string; body: string }>;
    return Object.fromEntries(rows.map((r) => [r.id, r.body]));
  }
  async putReferenceValues(values: StoredReferenceValue[]): Promise<void> {
    const stmt = this.#q('INSERT INTO kbs_reference_values (name, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at');
    this.#durable(() =>
      this.#db.transaction(() => {
        for (const v of values) stmt.run(v.name, JSON.stringify(v.values), v.expiresAt);
      })(),
    );
  }
  async getReferenceValue(name: string, now: number): Promise<StoredReferenceValue | undefined> {
    const r = this.#q('SELECT name, value, expires_at FROM kbs_reference_values WHERE name = ? AND expires_at > ?').get(name, now) as { name: string; value: string; expires_at: number } | undefined;
    return r === undefined ? undefined : { name: r.name, values: JSON.parse(r.value) as unknown, expiresAt: Number(r.expires_at) };
  }
  async listReferenceValues(now: number): Promise<Record<string, unknown>> {
    const rows = this.#q('SELECT name, value FROM kbs_reference_values WHERE expires_at > ?').all(now) as Array<{ name: string; value: string }>;
    return Object.fromEntries(rows.map((r) => [r.name, JSON.parse(r.value) as unknown]));
  }
  async getOrCreateSecret(name: string, create: () => string): Promise<string> {
    this.#durable(() => this.#q('INSERT INTO kbs_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(name, create()));
    return (this.#q('SELECT value FROM kbs_secrets WHERE name = ?').get(name) as { value: string }).value;
  }
  async ping(): Promise<void> {
    this.#q('SELECT 1').get();
  }
  async close(): Promise<void> {
    this.#db.close();
  }
}

function rowToSession(r: SessionRow): Session {
  const s: Session = { id: r.id, tee: r.tee as Tee, nonce: r.nonce, state: r.state === 'attested' ? 'attested' : 'authed', expiresAt: Number(r.expires_at) };
  if (r.token !== null) s.token = r.token;
  return s;
}
