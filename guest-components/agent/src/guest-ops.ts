import { constants } from 'node:fs';
import { mkdir, open, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { agentError } from './errors.js';

type Msg = Record<string, unknown>;

const SHARED_ROOT = '/run/kata-containers/shared';

/**
 * CopyFile: the runtime copies /etc/hosts, resolv.conf and volume files into the guest in
 * chunks (shared_fs=none). Only paths under /run/kata-containers/shared/ (kata's rule: under
 * /run) may be written.
 */
export async function copyFile(req: Msg, sharedRoot = SHARED_ROOT): Promise<void> {
  const target = path.resolve(String(req['path'] ?? ''));
  // SECURITY: a host-chosen path must stay inside the guest's shared dir under /run (no '..').
  if (!target.startsWith(`${sharedRoot}/`)) {
    throw agentError('AGENT_INVALID_SPEC', `CopyFile path ${String(req['path']).slice(0, 200)} is outside /run/kata-containers/shared`);
  }
  const fileMode = Number(req['file_mode'] ?? 0);
  const dirMode = Number(req['dir_mode'] ?? 0o750) & 0o7777 || 0o750;
  await mkdir(path.dirname(target), { recursive: true, mode: dirMode });
  // SECURITY: CopyFile can create symlinks; a parent that resolves outside the shared dir (a link
  // planted by an earlier CopyFile) must not redirect the write, and the file itself is opened
  // without following a link.
  const parent = await realpath(path.dirname(target));
  if (parent !== sharedRoot && !parent.startsWith(`${sharedRoot}/`)) {
    throw agentError('AGENT_INVALID_SPEC', `CopyFile path ${String(req['path']).slice(0, 200)} resolves outside /run/kata-containers/shared`);
  }
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
  const flags = constants.O_WRONLY | constants.O_NOFOLLOW | (offset === 0 ? constants.O_CREAT | constants.O_TRUNC : 0);
  const fh = await open(target, flags, fileMode & 0o7777 || 0o644);
  try {
    const data = Buffer.from((req['data'] as Buffer | undefined) ?? []);
    await fh.write(data, 0, data.length, offset);
    await fh.chmod(fileMode & 0o7777 || 0o644);
    const uid = Number(req['uid'] ?? 0);
    const gid = Number(req['gid'] ?? 0);
    if (uid > 0 || gid > 0) await fh.chown(Math.max(uid, 0), Math.max(gid, 0));
  } finally {
    await fh.close();
  }
}

/** ReseedRandomDev: mixes host-provided bytes into the pool (writing to urandom credits no entropy). */
export async function reseedRandom(req: Msg): Promise<void> {
  const data = Buffer.from((req['data'] as Buffer | undefined) ?? []);
  if (data.length) await writeFile('/dev/urandom', data);
}

/** SetGuestDateTime (after a VM resume the guest clock lags): busybox `date -s @<sec>`. */
export async function setGuestDateTime(req: Msg): Promise<void> {
  const sec = Number(req['Sec'] ?? 0);
  if (!Number.isInteger(sec) || sec <= 0) throw agentError('AGENT_INVALID_SPEC', `Invalid time ${String(req['Sec'])}`);
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) => execFile('date', ['-u', '-s', `@${sec}`], (err, _o, stderr) =>
    (err ? reject(agentError('AGENT_INVALID_SPEC', `Cannot set the guest time: ${String(stderr).trim() || err.message}`)) : resolve())));
}
