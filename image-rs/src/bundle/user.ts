import { open, constants } from 'node:fs/promises';
import path from 'node:path';
import { imgError } from '../errors.js';
import { cleanComponents } from '../unpack/secure-path.js';
import { ScopedResolver } from '../unpack/secure-path.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** $HOME from /etc/passwd, used when the image sets none. */
  home?: string;
}

/** Reads a file of the image (e.g. /etc/passwd) without following links out of the rootfs. */
async function readInRoot(rootfs: string, file: string): Promise<string | undefined> {
  try {
    const comps = cleanComponents(file.replace(/^\/+/, ''));
    const name = comps.pop();
    if (name === undefined) return undefined;
    // create=false: reading the image's user database must not add /etc to the rootfs.
    const dir = await new ScopedResolver(rootfs).dir(comps, file, false);
    // SECURITY: O_NOFOLLOW: /etc/passwd as a symlink to the host's file is not read.
    const fh = await open(path.join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size > 4 * 1024 * 1024) return undefined;
      return await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

const isNum = (s: string): boolean => /^\d+$/.test(s);

/**
 * Resolves the image config's `User` ("", "name", "uid", "uid:gid", "name:group") against the
 * image's /etc/passwd and /etc/group, like runc/containerd's user.GetExecUser.
 */
export async function resolveUser(rootfs: string, spec: string | undefined): Promise<ResolvedUser> {
  const s = (spec ?? '').trim();
  const [userPart = '', groupPart] = s === '' ? ['root'] : s.split(':');
  const passwd = (await readInRoot(rootfs, '/etc/passwd')) ?? '';
  const group = (await readInRoot(rootfs, '/etc/group')) ?? '';
  const users = passwd.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 7);
  const groups = group.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 4);
  let uid: number;
  let gid: number;
  let home: string | undefined;
  let name: string | undefined;
  const byName = users.find((u) => u[0] === userPart);
  const byUid = isNum(userPart) ? users.find((u) => u[2] === userPart) : undefined;
  const entry = byName ?? byUid;
  if (entry !== undefined) {
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5];
    name = entry[0];
  } else if (isNum(userPart)) {
    uid = Number(userPart);
    gid = 0;
  } else if (userPart === 'root') {
    uid = 0;
    gid = 0;
  } else {
    throw imgError('IMG_CONFIG_INVALID', `Image user "${userPart}" is not in the image's /etc/passwd`);
  }
  if (groupPart !== undefined && groupPart !== '') {
    const g = groups.find((x) => x[0] === groupPart) ?? (isNum(groupPart) ? groups.find((x) => x[2] === groupPart) : undefined);
    if (g !== undefined) gid = Number(g[2]);
    else if (isNum(groupPart)) gid = Number(groupPart);
    else throw imgError('IMG_CONFIG_INVALID', `Image group "${groupPart}" is not in the image's /etc/group`);
  }
  // Supplementary groups: only when a user name was resolved and no explicit group was given (runc).
  const additionalGids =
    name !== undefined && (groupPart === undefined || groupPart === '')
      ? groups.filter((g) => (g[3] ?? '').split(',').includes(name) && Number(g[2]) !== gid).map((g) => Number(g[2]))
      : [];
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) throw imgError('IMG_CONFIG_INVALID', `Image user "${s}" resolves to an invalid uid/gid`);
  return { uid, gid, additionalGids, ...(home === undefined || home === '' ? {} : { home }) };
}
