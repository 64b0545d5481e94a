/**
 * The one schema of the SQL stores (SQLite and PostgreSQL accept the same DDL apart from the
 * blob type). Versioned so a later release can migrate.
 */
export function schemaSql(blob: 'BLOB' | 'BYTEA'): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS kbs_schema (version INTEGER NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS kbs_sessions (id TEXT PRIMARY KEY, tee TEXT NOT NULL, nonce TEXT NOT NULL, state TEXT NOT NULL, token TEXT, expires_at BIGINT NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS kbs_sessions_expiry ON kbs_sessions (expires_at)`,
    `CREATE TABLE IF NOT EXISTS kbs_resources (path TEXT PRIMARY KEY, data ${blob} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS kbs_policies (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id))`,
    `CREATE TABLE IF NOT EXISTS kbs_reference_values (name TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at BIGINT NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS kbs_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  ];
}

export const SCHEMA_VERSION = 1;
