import { KccError } from '@kata-cc/errors';
import { MemoryStore } from './memory/memory-store.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { KbsStore } from './store.js';

export type StorageSpec = { type: 'memory' } | { type: 'sqlite'; path: string } | { type: 'postgres'; url: string };

/** Parses `--storage`: `memory:`, `sqlite:PATH`, `postgres://...` / `postgresql://...`. */
export function parseStorageSpec(text: string): StorageSpec {
  if (text === 'memory:' || text === 'memory') return { type: 'memory' };
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length);
    if (path === '') throw badSpec(text);
    return { type: 'sqlite', path };
  }
  if (text.startsWith('postgres://') || text.startsWith('postgresql://')) return { type: 'postgres', url: text };
  throw badSpec(text);
}

function badSpec(text: string): KccError {
  // The URL may hold a password: never echo it.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  const shown = scheme !== null ? `${scheme[1]}://...` : text.slice(0, 64);
  return new KccError({ kind: 'INVALID_ARGUMENT', code: 'KBS_STORAGE_SPEC_INVALID', message: `Invalid --storage "${shown}"; expected sqlite:PATH, postgres://... or memory:` });
}

/** The one switch that picks a storage backend. */
export async function openStore(spec: StorageSpec): Promise<KbsStore> {
  switch (spec.type) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite':
      return new SqliteStore(spec.path);
    case 'postgres':
      return PostgresStore.open(spec.url);
    default: {
      const never: never = spec;
      throw new Error(`unreachable storage ${String(never)}`);
    }
  }
}
