import { execFile } from 'node:child_process';
import { writeFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

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
 * Node has no setxattr(2): xattrs are applied in one batch per layer with `setfattr --restore`
 * (package `attr`). Returns warnings for what could not be applied.
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
  const dir = await mkdtemp(path.join(tmpdir(), 'img-xattr-'));
  try {
    await writeFile(path.join(dir, 'dump'), dump);
    await run('setfattr', ['-h', `--restore=${path.join(dir, 'dump')}`]);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'setfattr (package attr) is not installed' : String((err as { stderr?: unknown }).stderr ?? err).slice(0, 200);
    warnings.push(`${ok.length} xattr(s) not applied: ${why}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return warnings;
}
