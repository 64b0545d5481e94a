#!/usr/bin/env node
// Every package declares what it imports: each bare import in a package's src/ must be in its
// package.json (dependencies or devDependencies, or a root devDependency such as fast-check),
// and each internal @kata-cc/* dependency must be a tsconfig reference, so `tsc -b` builds in
// the right order and `npm ci` installs what each package really needs. Run by `npm test`.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));
const rootPkg = readJson(path.join(root, 'package.json'));
const rootDev = new Set(Object.keys(rootPkg.devDependencies ?? {}));
const builtins = new Set(builtinModules);

const dirs = rootPkg.workspaces.flatMap((w) => {
  if (!w.endsWith('/*')) return [w];
  const base = w.slice(0, -2);
  return readdirSync(path.join(root, base)).map((d) => path.join(base, d)).filter((d) => existsSync(path.join(root, d, 'package.json')));
});
const dirOf = new Map(dirs.map((d) => [readJson(path.join(root, d, 'package.json')).name, d]));

function sources(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      if (name !== 'node_modules' && name !== 'dist' && name !== 'testdata') sources(full, out);
    } else if (/\.(ts|mts|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

// Import specifiers at the start of a statement or in import(): not text inside strings.
const IMPORT = /^\s*(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

const problems = [];
for (const dir of dirs) {
  const pkg = readJson(path.join(root, dir, 'package.json'));
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]);
  const reported = new Set();
  const src = path.join(root, dir, 'src');
  if (existsSync(src)) {
    for (const file of sources(src)) {
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (!spec || spec.startsWith('.') || spec.startsWith('node:') || spec.startsWith('/')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (builtins.has(name) || name === pkg.name || declared.has(name) || rootDev.has(name) || reported.has(name)) continue;
        problems.push(`${path.relative(root, file)} imports "${name}", which ${dir}/package.json does not declare`);
        reported.add(name);
      }
    }
  }
  const tsconfig = readJson(path.join(root, dir, 'tsconfig.json'));
  const refs = new Set((tsconfig.references ?? []).map((r) => path.normalize(path.join(dir, r.path))));
  for (const name of declared) {
    const target = dirOf.get(name);
    if (target && !refs.has(path.normalize(target))) problems.push(`${dir}/tsconfig.json lacks a reference to ${target} (${name} is a dependency)`);
  }
}
if (problems.length) {
  console.error(`check-workspace-deps: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-workspace-deps: ${dirs.length} packages declare what they import`);
