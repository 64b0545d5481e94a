// The runtime dependency closure of some workspace packages: which folders of this checkout
// (workspace packages and node_modules packages) a program needs, so images and payloads
// carry what runs and nothing else (no TypeScript sources, no dev tools).
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

/** Resolves `name` from `fromDir` the way Node does (node_modules up the tree); real path or null. */
function resolvePackage(name, fromDir, repo) {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dir === repo || dir === path.dirname(dir)) return null;
    dir = path.dirname(dir);
  }
}

/** Real paths of every package folder `roots` (workspace dirs relative to repo) need at run time. */
export function packageClosure(repo, roots) {
  const seen = new Set();
  const queue = roots.map((r) => realpathSync(path.join(repo, r)));
  while (queue.length > 0) {
    const dir = queue.pop();
    if (seen.has(dir)) continue;
    seen.add(dir);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const deps = { ...(pkg.dependencies ?? {}), ...(pkg.optionalDependencies ?? {}) };
    for (const name of Object.keys(deps)) {
      const found = resolvePackage(name, dir, repo);
      if (found === null) {
        if (pkg.optionalDependencies?.[name] !== undefined) continue;
        throw new Error(`${path.relative(repo, dir) || '.'}: dependency ${name} is not installed (run npm ci)`);
      }
      queue.push(found);
    }
  }
  return [...seen].sort();
}

const SKIP = /(^|\/)(src|testdata|\.git|node_modules)(\/|$)|\.tsbuildinfo$|\.ts\.map$|\.js\.map$/;

/**
 * Copies the closure into `dest` with the checkout's layout (workspace packages at their
 * paths, npm packages under node_modules/ at their paths) and the @kata-cc/* links, so Node
 * resolves exactly as in the checkout. Returns the native addons (*.node) copied.
 */
export function copyClosure(repo, roots, dest) {
  const dirs = packageClosure(repo, roots);
  const addons = [];
  mkdirSync(dest, { recursive: true });
  cpSync(path.join(repo, 'package.json'), path.join(dest, 'package.json'));
  for (const dir of dirs) {
    const rel = path.relative(repo, dir);
    if (rel.startsWith('..')) throw new Error(`${dir} is outside the checkout`);
    const isWorkspace = !rel.split(path.sep).includes('node_modules');
    if (isWorkspace && !existsSync(path.join(dir, 'dist'))) throw new Error(`${rel} is not built: run npx tsc -b first`);
    cpSync(dir, path.join(dest, rel), {
      recursive: true,
      filter: (p) => {
        const r = path.relative(dir, p);
        if (r === '') return true;
        if (isWorkspace ? SKIP.test(r) : /(^|\/)node_modules(\/|$)/.test(r)) return false;
        if (p.endsWith('.node') && lstatSync(p).isFile()) addons.push(path.join(dest, rel, r));
        return true;
      },
    });
    if (isWorkspace) {
      const name = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name;
      const link = path.join(dest, 'node_modules', name);
      mkdirSync(path.dirname(link), { recursive: true });
      if (!existsSync(link)) symlinkSync(path.relative(path.dirname(link), path.join(dest, rel)), link);
    }
  }
  return addons;
}

/** The shared libraries (absolute paths) an ELF file loads, from ldd. */
export function sharedLibraries(file) {
  const out = execFileSync('ldd', [file], { encoding: 'utf8' });
  const libs = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/** Copies files into `root` at their own absolute paths (dereferencing symlinks). */
export function copyAtPath(root, files) {
  for (const f of new Set(files)) {
    const to = path.join(root, f);
    mkdirSync(path.dirname(to), { recursive: true });
    cpSync(realpathSync(f), to);
  }
}

export function listDir(dir) {
  return existsSync(dir) ? readdirSync(dir) : [];
}
