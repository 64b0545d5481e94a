// The npm `install` script of the workspaces with an N-API addon (libs/vsock,
// attestation-agent/tee-devices): compiles the package's binding.gyp (cwd = the package) with
// node-gyp, npm's bundled copy. Headers come from the local Node installation (--nodedir), so
// nothing is downloaded. Plain .mjs: it runs before `tsc -b`.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.cwd();
const name = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name ?? dir;
const prefix = path.resolve(path.dirname(process.execPath), '..');

const gyp = [
  process.env.npm_config_node_gyp,
  path.join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
].find((p) => p && existsSync(p));
if (!gyp) {
  console.error(`${name}: node-gyp not found (it ships with npm); cannot build its native addon`);
  process.exit(1);
}

const args = [gyp, 'rebuild'];
if (!process.env.npm_config_nodedir) {
  const nodedir = [prefix, '/usr'].find((p) => existsSync(path.join(p, 'include/node/node_api.h')));
  if (nodedir) args.push(`--nodedir=${nodedir}`);
}
execFileSync(process.execPath, args, { cwd: dir, stdio: 'inherit' });
