import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';

/** containerd's snapshots.Kind (api/services/snapshots/v1 Kind). */
export type SnapshotKind = 'VIEW' | 'ACTIVE' | 'COMMITTED';

export interface SnapshotInfo {
  name: string;
  parent: string;
  kind: SnapshotKind;
  created: number;
  updated: number;
  labels: Record<string, string>;
}

/** A containerd mount (containerd.types.Mount). */
export interface SnapshotMount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

interface Entry extends SnapshotInfo {
  /** Directory under `<root>/snapshots/` (a number, never derived from a client key). */
  id: string;
}

interface Persisted {
  version: 1;
  next: number;
  snapshots: Entry[];
}

/** The label containerd's unpacker puts on each layer's extraction snapshot: the layer's chain id. */
export const LABEL_SNAPSHOT_REF = 'containerd.io/snapshot.ref';
/** Set on the committed snapshots this snapshotter made for a layer it did not fetch. */
export const LABEL_GUEST_PULL = 'kata-cc.io/guest-pull';

const MAX_LABEL_BYTES = 4096;

const fail = (kind: 'NOT_FOUND' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT', code: string, message: string): never => {
  throw new KccError({ kind, code, message });
};

/**
 * Snapshot metadata in one JSON file under `root` (written atomically after each change) and one
 * empty directory per active/view snapshot. Layers are never stored: a Prepare that carries the
 * unpacker's `containerd.io/snapshot.ref` label becomes a committed snapshot at once and is
 * answered ALREADY_EXISTS, so containerd neither fetches nor applies the layer (guest pull).
 */
export class SnapshotStore {
  readonly root: string;
  private readonly file: string;
  private readonly byName = new Map<string, Entry>();
  private next = 1;
  private readonly now: () => number;

  constructor(root: string, now: () => number = Date.now) {
    this.now = now;
    this.root = path.resolve(root);
    this.file = path.join(this.root, 'metadata.json');
    mkdirSync(path.join(this.root, 'snapshots'), { recursive: true, mode: 0o700 });
    if (existsSync(this.file)) {
      let data: Persisted;
      try {
        data = JSON.parse(readFileSync(this.file, 'utf8')) as Persisted;
      } catch (cause) {
        throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'SNAP_METADATA_CORRUPT', message: `Cannot read snapshot metadata ${this.file}`, cause });
      }
      if (data.version !== 1 || !Array.isArray(data.snapshots)) fail('FAILED_PRECONDITION', 'SNAP_METADATA_CORRUPT', `Unsupported snapshot metadata in ${this.file}`);
      this.next = data.next;
      for (const e of data.snapshots) this.byName.set(e.name, e);
    }
  }

  stat(key: string): SnapshotInfo {
    return publicInfo(this.get(key));
  }

  list(): SnapshotInfo[] {
    return [...this.byName.values()].map(publicInfo);
  }

  /**
   * Prepare (`readonly` false) or View. With the unpacker's snapshot.ref label the layer is
   * recorded as committed under that name and ALREADY_EXISTS is thrown (containerd's remote
   * snapshot protocol); otherwise an empty directory is returned as the container's rootfs.
   */
  prepare(key: string, parent: string, labels: Record<string, string>, readonly: boolean): SnapshotMount[] {
    checkKey(key);
    checkLabels(labels);
    if (this.byName.has(key)) fail('ALREADY_EXISTS', 'SNAP_EXISTS', `Snapshot ${key} already exists`);
    if (parent !== '') {
      const p = this.get(parent);
      if (p.kind !== 'COMMITTED') fail('FAILED_PRECONDITION', 'SNAP_PARENT_NOT_COMMITTED', `Parent ${parent} of ${key} is not committed`);
    }
    const target = labels[LABEL_SNAPSHOT_REF];
    const t = this.now();
    if (target !== undefined && target !== '') {
      checkKey(target);
      // SECURITY: the host never holds a layer of a guest-pulled image: every layer snapshot is
      // answered "already exists" before containerd fetches the blob, so neither the (encrypted)
      // blob nor a plaintext file of it reaches the host's content store or disk.
      if (!this.byName.has(target)) {
        this.byName.set(target, { id: '', name: target, parent, kind: 'COMMITTED', created: t, updated: t, labels: { ...labels, [LABEL_GUEST_PULL]: 'true' } });
        this.save();
      }
      fail('ALREADY_EXISTS', 'SNAP_TARGET_EXISTS', `Target snapshot ${target} exists (guest pull: layer not fetched on the host)`);
    }
    const id = String(this.next++);
    mkdirSync(this.fsDir(id), { recursive: true, mode: 0o755 });
    const entry: Entry = { id, name: key, parent, kind: readonly ? 'VIEW' : 'ACTIVE', created: t, updated: t, labels: { ...labels } };
    this.byName.set(key, entry);
    this.save();
    return this.mountsOf(entry);
  }

  mounts(key: string): SnapshotMount[] {
    const e = this.get(key);
    if (e.kind === 'COMMITTED') fail('FAILED_PRECONDITION', 'SNAP_COMMITTED', `Snapshot ${key} is committed: it has no mounts`);
    return this.mountsOf(e);
  }

  commit(name: string, key: string, labels: Record<string, string>): void {
    checkKey(name);
    checkLabels(labels);
    const e = this.get(key);
    if (e.kind !== 'ACTIVE') fail('FAILED_PRECONDITION', 'SNAP_NOT_ACTIVE', `Snapshot ${key} is not active`);
    if (this.byName.has(name)) fail('ALREADY_EXISTS', 'SNAP_EXISTS', `Snapshot ${name} already exists`);
    this.byName.delete(key);
    this.byName.set(name, { ...e, name, kind: 'COMMITTED', updated: this.now(), labels: { ...e.labels, ...labels } });
    this.save();
  }

  remove(key: string): void {
    const e = this.get(key);
    for (const other of this.byName.values()) {
      if (other.parent === key) fail('FAILED_PRECONDITION', 'SNAP_HAS_CHILDREN', `Snapshot ${key} has children (${other.name})`);
    }
    this.byName.delete(key);
    this.save();
    if (e.id !== '') rmSync(path.join(this.root, 'snapshots', e.id), { recursive: true, force: true });
  }

  /** Updates labels only (name, parent, kind and created are immutable, as containerd defines). */
  update(info: { name: string; labels: Record<string, string> }, paths: string[]): SnapshotInfo {
    checkLabels(info.labels);
    const e = this.get(info.name);
    if (paths.length === 0 || paths.includes('labels')) {
      e.labels = { ...info.labels };
    } else {
      for (const p of paths) {
        if (!p.startsWith('labels.')) fail('INVALID_ARGUMENT', 'SNAP_UPDATE_FIELD', `Cannot update field ${p} of snapshot ${info.name}`);
        const k = p.slice('labels.'.length);
        const v = info.labels[k];
        if (v === undefined || v === '') delete e.labels[k];
        else e.labels[k] = v;
      }
    }
    e.updated = this.now();
    this.save();
    return publicInfo(e);
  }

  /** Disk use: active/view directories only (guest-pulled layers take no host space). */
  usage(key: string): { size: number; inodes: number } {
    const e = this.get(key);
    if (e.id === '') return { size: 0, inodes: 0 };
    return du(this.fsDir(e.id));
  }

  /** Removes directories no snapshot refers to (left by a crash between mkdir and save). */
  cleanup(): number {
    const used = new Set([...this.byName.values()].map((e) => e.id));
    let removed = 0;
    for (const d of readdirSync(path.join(this.root, 'snapshots'))) {
      if (!used.has(d)) {
        rmSync(path.join(this.root, 'snapshots', d), { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  private get(key: string): Entry {
    const e = this.byName.get(key);
    if (e === undefined) return fail('NOT_FOUND', 'SNAP_NOT_FOUND', `Snapshot ${key} does not exist`);
    return e;
  }

  private fsDir(id: string): string {
    return path.join(this.root, 'snapshots', id, 'fs');
  }

  /** An empty directory bind-mounted: the host has nothing of the image; the guest pulls it. */
  private mountsOf(e: Entry): SnapshotMount[] {
    return [{ type: 'bind', source: this.fsDir(e.id), target: '', options: ['rbind', e.kind === 'VIEW' ? 'ro' : 'rw'] }];
  }

  private save(): void {
    const data: Persisted = { version: 1, next: this.next, snapshots: [...this.byName.values()] };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

function publicInfo(e: Entry): SnapshotInfo {
  return { name: e.name, parent: e.parent, kind: e.kind, created: e.created, updated: e.updated, labels: { ...e.labels } };
}

function checkKey(key: string): void {
  if (key === '' || key.length > 4096 || key.includes('\0')) fail('INVALID_ARGUMENT', 'SNAP_INVALID_KEY', 'Snapshot key must be 1 to 4096 characters without NUL');
}

function checkLabels(labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > MAX_LABEL_BYTES) fail('INVALID_ARGUMENT', 'SNAP_LABEL_TOO_LONG', `Label ${k.slice(0, 64)} exceeds ${MAX_LABEL_BYTES} bytes`);
  }
}

function du(dir: string): { size: number; inodes: number } {
  let size = 0;
  let inodes = 0;
  const walk = (d: string): void => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      inodes++;
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.isFile()) size += statSync(p).size;
    }
  };
  if (existsSync(dir)) walk(dir);
  return { size, inodes };
}
