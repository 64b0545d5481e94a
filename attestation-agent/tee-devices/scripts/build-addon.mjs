// npm `install` script of @kata-cc/tee-devices: compiles native/tee-devices.c with node-gyp (npm's bundled
// copy) on `npm ci`/`npm install`. Headers come from the local Node installation (--nodedir) so
// nothing is downloaded. Plain .mjs: it runs before `tsc -b`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const prefix = path.resolve(path.dirname(process.execPath), '..');

const gyp = [
  process.env.npm_config_node_gyp,
  path.join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
].find((p) => p && existsSync(p));
if (!gyp) {
  console.error('@kata-cc/tee-devices: node-gyp not found (it ships with npm); cannot build the TEE device addon');
  process.exit(1);
}

const args = [gyp, 'rebuild'];
if (!process.env.npm_config_nodedir) {
  const nodedir = [prefix, '/usr'].find((p) => existsSync(path.join(p, 'include/node/node_api.h')));
  if (nodedir) args.push(`--nodedir=${nodedir}`);
}
execFileSync(process.execPath, args, { cwd: dir, stdio: 'inherit' });
