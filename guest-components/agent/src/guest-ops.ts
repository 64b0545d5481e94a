import { chmod, chown, mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { agentError } from './errors.js';

type Msg = Record<string, unknown>;

/**
 * CopyFile: the runtime copies /etc/hosts, resolv.conf and volume files into the guest in
 * chunks (shared_fs=none). Only paths under /run/kata-containers/shared/ (kata's rule: under
 * /run) may be written.
 */
export async function copyFile(req: Msg): Promise<void> {
  const target = path.resolve(String(req['path'] ?? ''));
  // SECURITY: a host-chosen path must stay inside the guest's shared dir under /run (no '..').
  if (!target.startsWith('/run/kata-containers/shared/')) {
    throw agentError('AGENT_INVALID_SPEC', `CopyFile path ${String(req['path']).slice(0, 200)} is outside /run/kata-containers/shared`);
  }
  const fileMode = Number(req['file_mode'] ?? 0);
  const dirMode = Number(req['dir_mode'] ?? 0o750) & 0o7777 || 0o750;
  await mkdir(path.dirname(target), { recursive: true, mode: dirMode });
  const S_IFMT = 0o170000;
  if ((fileMode & S_IFMT) === 0o040000) {
    await mkdir(target, { recursive: true, mode: fileMode & 0o7777 });
    return;
  }
  if ((fileMode & S_IFMT) === 0o120000) {
    const { symlink, rm } = await import('node:fs/promises');
    await rm(target, { force: true });
    await symlink(Buffer.from((req['data'] as Buffer | undefined) ?? []).toString(), target);
    return;
  }
  const offset = Number(req['offset'] ?? 0);
  const fh = await open(target, offset === 0 ? 'w' : 'r+', fileMode & 0o7777 || 0o644);
  try {
    const data = Buffer.from((req['data'] as Buffer | undefined) ?? []);
    await fh.write(data, 0, data.length, offset);
  } finally {
    await fh.close();
  }
  await chmod(target, fileMode & 0o7777 || 0o644);
  const uid = Number(req['uid'] ?? 0);
  const gid = Number(req['gid'] ?? 0);
  if (uid > 0 || gid > 0) await chown(target, Math.max(uid, 0), Math.max(gid, 0));
}

/** ReseedRandomDev: mixes host-provided bytes into the pool (writing to urandom credits no entropy). */
export async function reseedRandom(req: Msg): Promise<void> {
  const data = Buffer.from((req['data'] as Buffer | undefined) ?? []);
  if (data.length) await writeFile('/dev/urandom', data);
}
