import pg from 'pg';
import { KccError, messageOf } from '@kata-cc/errors';
import type { Tee } from '@kata-cc/kbs-types';
import { schemaSql } from '../schema.js';
import type { KbsStore, PolicyKind, Session, SessionLimit, StoredReferenceValue } from '../store.js';

const NAMES = new Map<string, string>();

/**
 * PostgreSQL store: several KBS replicas share sessions, resources and policies, so /auth on
 * one replica and /attest + /resource on another work. Admin writes commit durably (fsynced
 * WAL) before the call returns. Session writes go through a second pool with
 * `synchronous_commit = off`: visible to every replica at once, but a PostgreSQL crash may lose
 * the last few; that only costs a client a new handshake, and saves an fsync per message.
 */
export class PostgresStore implements KbsStore {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #sessions: pg.Pool;

  private constructor(pool: pg.Pool, sessions: pg.Pool) {
    this.#pool = pool;
    this.#sessions = sessions;
  }

  /** A named (server-side prepared, per connection) query: PostgreSQL parses each SQL once. */
  static #named(sql: string, values: unknown[]): pg.QueryConfig {
    let name = NAMES.get(sql);
    if (name === undefined) {
      name = `kbs_${NAMES.size}`;
      NAMES.set(sql, name);
    }
    return { name, text: sql, values };
  }

  static async open(connectionString: string, poolSize = 10): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString, max: poolSize });
    pool.on('error', () => {
      // An idle client lost its connection; the pool replaces it on next use.
    });
    try {
      const c = await pool.connect();
      try {
        // Serializes concurrent replica start-ups creating the schema.
        await c.query('SELECT pg_advisory_lock(72170001)');
        for (const sql of schemaSql('BYTEA')) await c.query(sql);
        await c.query('SELECT pg_advisory_unlock(72170001)');
      } finally {
        c.release();
      }
    } catch (e) {
      await pool.end().catch(() => {});
      throw new KccError({ kind: 'UNAVAILABLE', code: 'KBS_STORAGE_INIT', message: `Cannot open the PostgreSQL store: ${messageOf(e)}`, cause: e });
    }
    const sessions = new pg.Pool({ connectionString, max: poolSize, options: '-c synchronous_commit=off' });
    sessions.on('error', () => {});
    return new PostgresStore(pool, sessions);
  }

  async createSession(s: Session, limit?: SessionLimit): Promise<boolean> {
    const values = [s.id, s.tee, s.nonce, s.state, s.token ?? null, s.expiresAt];
    if (limit === undefined) {
      await this.#sessions.query(PostgresStore.#named('INSERT INTO kbs_sessions (id, tee, nonce, state, token, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', values));
      return true;
    }
    // Count and insert in one statement; concurrent inserts may overshoot by the pool size.
    const r = await this.#sessions.query(
      PostgresStore.#named(
        'INSERT INTO kbs_sessions (id, tee, nonce, state, token, expires_at) SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint WHERE (SELECT count(*) FROM kbs_sessions WHERE expires_at > $7::bigint) < $8::bigint',
        [...values, limit.now, limit.maxLive],
      ),
    );
    return r.rowCount === 1;
  }
  async countLiveSessions(now: number): Promise<number> {
    const r = await this.#sessions.query(PostgresStore.#named('SELECT count(*)::int AS n FROM kbs_sessions WHERE expires_at > $1', [now]));
    return Number((r.rows[0] as { n: number } | undefined)?.n ?? 0);
  }
  async getSession(id: string): Promise<Session | undefined> {
    const r = await this.#sessions.query(PostgresStore.#named('SELECT id, tee, nonce, state, token, expires_at FROM kbs_sessions WHERE id = $1', [id]));
    const row = r.rows[0] as { id: string; tee: string; nonce: string; state: string; token: string | null; expires_at: string } | undefined;
    if (row === undefined) return undefined;
    const s: Session = { id: row.id, tee: row.tee as Tee, nonce: row.nonce, state: row.state === 'attested' ? 'attested' : 'authed', expiresAt: Number(row.expires_at) };
    if (row.token !== null) s.token = row.token;
    return s;
  }
  async markAttested(id: string, token: string, now: number): Promise<boolean> {
    const r = await this.#sessions.query(PostgresStore.#named("UPDATE kbs_sessions SET state = 'attested', token = $1 WHERE id = $2 AND state = 'authed' AND expires_at > $3", [token, id, now]));
    return r.rowCount === 1;
  }
  async deleteExpiredSessions(now: number): Promise<number> {
    const r = await this.#sessions.query(PostgresStore.#named('DELETE FROM kbs_sessions WHERE expires_at <= $1', [now]));
    return r.rowCount ?? 0;
  }
  async deleteSession(id: string): Promise<void> {
    await this.#sessions.query(PostgresStore.#named('DELETE FROM kbs_sessions WHERE id = $1', [id]));
  }
  async putResource(path: string, data: Uint8Array): Promise<void> {
    await this.#pool.query(PostgresStore.#named('INSERT INTO kbs_resources (path, data) VALUES ($1, $2) ON CONFLICT (path) DO UPDATE SET data = EXCLUDED.data', [path, Buffer.from(data)]));
  }
  async getResource(path: string): Promise<Uint8Array | undefined> {
    const r = await this.#pool.query(PostgresStore.#named('SELECT data FROM kbs_resources WHERE path = $1', [path]));
    const row = r.rows[0] as { data: Buffer } | undefined;
    return row === undefined ? undefined : new Uint8Array(row.data);
  }
  async deleteResource(path: string): Promise<boolean> {
    const r = await this.#pool.query(PostgresStore.#named('DELETE FROM kbs_resources WHERE path = $1', [path]));
    return r.rowCount === 1;
  }
  async putPolicy(kind: PolicyKind, id: string, body: string): Promise<void> {
    await this.#pool.query(PostgresStore.#named('INSERT INTO kbs_policies (kind, id, body) VALUES ($1, $2, $3) ON CONFLICT (kind, id) DO UPDATE SET body = EXCLUDED.body', [kind, id, body]));
  }
  async getPolicy(kind: PolicyKind, id: string): Promise<string | undefined> {
    const r = await this.#pool.query(PostgresStore.#named('SELECT body FROM kbs_policies WHERE kind = $1 AND id = $2', [kind, id]));
    return (r.rows[0] as { body: string } | undefined)?.body;
  }
  async listPolicies(kind: PolicyKind): Promise<Record<string, string>> {
    const r = await this.#pool.query(PostgresStore.#named('SELECT id, body FROM kbs_policies WHERE kind = $1 ORDER BY id', [kind]));
    return Object.fromEntries((r.rows as Array<{ id: string; body: string }>).map((x) => [x.id, x.body]));
  }
  async putReferenceValues(values: StoredReferenceValue[]): Promise<void> {
    const c = await this.#pool.connect();
    try {
      await c.query('BEGIN');
      for (const v of values) {
        await c.query('INSERT INTO kbs_reference_values (name, value, expires_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at', [v.name, JSON.stringify(v.values), v.expiresAt]);
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }
  async getReferenceValue(name: string, now: number): Promise<StoredReferenceValue | undefined> {
    const r = await this.#pool.query(PostgresStore.#named('SELECT name, value, expires_at FROM kbs_reference_values WHERE name = $1 AND expires_at > $2', [name, now]));
    const row = r.rows[0] as { name: string; value: string; expires_at: string } | undefined;
    return row === undefined ? undefined : { name: row.name, values: JSON.parse(row.value) as unknown, expiresAt: Number(row.expires_at) };
  }
  async listReferenceValues(now: number): Promise<Record<string, unknown>> {
    const r = await this.#pool.query(PostgresStore.#named('SELECT name, value FROM kbs_reference_values WHERE expires_at > $1', [now]));
    return Object.fromEntries((r.rows as Array<{ name: string; value: string }>).map((x) => [x.name, JSON.parse(x.value) as unknown]));
  }
  async getOrCreateSecret(name: string, create: () => string): Promise<string> {
    await this.#pool.query(PostgresStore.#named('INSERT INTO kbs_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, create()]));
    const r = await this.#pool.query(PostgresStore.#named('SELECT value FROM kbs_secrets WHERE name = $1', [name]));
    return (r.rows[0] as { value: string }).value;
  }
  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }
  async close(): Promise<void> {
    await Promise.all([this.#pool.end(), this.#sessions.end()]);
  }
}
