import { spawn } from 'node:child_process';

/** Remembered after the first ENOENT so a layer full of xattrs does not spawn in vain. */
let setfattrMissing = false;

export interface XattrRecord {
  path: string;
  name: string;
  value: Buffer;
  noFollow: boolean;
}

// SECURITY: trusted.* (overlayfs redirect/opaque/metacopy) and system.* (ACLs of the host)
// from an image could change how the guest's overlay or kernel treats the tree; only user.*
// and file capabilities are applied.
function allowed(name: string): boolean {
  return name.startsWith('user.') || name === 'security.capability';
}

// SECURITY: the dump is a line format; a name with a newline or "=" could inject a record for
// another file, so names are restricted to plain characters.
const SAFE_NAME = /^[A-Za-z0-9._-]{1,255}$/;

/** Octal-escapes every byte but [A-Za-z0-9/._-] so setfattr decodes exactly this path. */
function escapePath(p: string): string {
  let out = '';
  for (const b of Buffer.from(p, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9/._-]/.test(c) ? c : `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/**
 * Node has no setxattr(2): xattrs are applied with `setfattr --restore=-` (package `attr`),
 * one spawn per entry that has any. Returns warnings for what could not be applied.
 */
export async function applyXattrs(records: XattrRecord[]): Promise<string[]> {
  const warnings: string[] = [];
  const ok = records.filter((r) => {
    const good = SAFE_NAME.test(r.name) && allowed(r.name);
    if (!good) warnings.push(`dropped xattr ${r.name.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}`);
    return good;
  });
  if (ok.length === 0) return warnings;
  const dump = ok.map((r) => `# file: ${escapePath(r.path)}\n${r.name}=0x${r.value.toString('hex')}\n`).join('\n');
  if (setfattrMissing) {
    warnings.push(`${ok.length} xattr(s) not applied: setfattr (package attr) is not installed`);
    return warnings;
  }
  const why = await new Promise<string | undefined>((resolve) => {
    const child = spawn('setfattr', ['-h', '--restore=-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') setfattrMissing = true;
      resolve(err.code === 'ENOENT' ? 'setfattr (package attr) is not installed' : err.message);
    });
    child.on('close', (code) => resolve(code === 0 ? undefined : stderr.slice(0, 200) || `setfattr exited ${code}`));
    child.stdin.on('error', () => undefined);
    child.stdin.end(dump);
  });
  if (why !== undefined) warnings.push(`${ok.length} xattr(s) not applied: ${why}`);
  return warnings;
}
