import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '@kata-cc/testing';
import { KccError } from '@kata-cc/errors';
import { Container } from './container.js';
import { Runc, runcLogError } from './runc.js';

// A fake runc (a shell script standing in for the real binary): `run` either fails the way runc
// 1.1 does with --log (the error in the JSON log AND on its stderr, which is the container's
// stderr) or "starts" the container by writing the pid file. FAKE_RUNC_MODE picks.
const FAKE_RUNC = `#!/bin/sh
log=""; pidfile=""
while [ $# -gt 0 ]; do
  case "$1" in
    --log) log="$2"; shift ;;
    --pid-file) pidfile="$2"; shift ;;
  esac
  shift
done
case "$FAKE_RUNC_MODE" in
  fail)
    msg='runc run failed: unable to start container process: exec: nope: executable file not found in $PATH'
    [ -n "$log" ] && printf '{"level":"warning","msg":"cgroup v1 deprecated","time":"t"}\\n{"level":"error","msg":"%s","time":"t"}' "$msg" >> "$log"
    echo "$msg" >&2
    exit 1 ;;
  silent) exit 1 ;;
  ok) echo $$ > "$pidfile"; echo out; exit 0 ;;
esac
`;

let dir: string;
let cleanup: () => Promise<void>;
let runc: Runc;
before(async () => {
  ({ dir, cleanup } = await tempDir('agent-runc-'));
  const bin = path.join(dir, 'runc');
  await writeFile(bin, FAKE_RUNC);
  await chmod(bin, 0o755);
  runc = new Runc(bin, path.join(dir, 'root'));
});
after(async () => {
  delete process.env['FAKE_RUNC_MODE'];
  await cleanup();
});

const container = (id: string): Container => new Container(id, dir, { ociVersion: '1.1.0', process: { args: ['nope'], cwd: '/' } } as never, runc, '');

test('StartContainer failure carries runc\'s message even when the shim\'s ReadStderr drained the stream first (was: empty reason)', async () => {
  process.env['FAKE_RUNC_MODE'] = 'fail';
  const c = container('c-fail');
  // The shim issues ReadStderr right after CreateContainer: it is pending before runc runs.
  const shimRead = c.init.stderr.read(4096);
  const err = await c.start().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof KccError);
  assert.equal(err.code, 'AGENT_RUNC_FAILED');
  assert.match(err.message, /^Container c-fail failed to start: runc run failed: unable to start container process: exec: nope: executable file not found/);
  assert.equal(err.details?.['exit'], 1);
  // The container's stderr stream still delivers what was written on it, untouched.
  assert.match((await shimRead).toString(), /executable file not found/);
  assert.equal(c.status, 'stopped');
});

test('a runc that exits without logging anything still gives a reason, not an empty message', async () => {
  process.env['FAKE_RUNC_MODE'] = 'silent';
  const err = await container('c-silent').start().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof KccError);
  assert.equal(err.message, 'Container c-silent failed to start: runc exited with 1 and logged no error');
});

test('a stale runc log from an earlier attempt is not reported; success returns on the pid file', async () => {
  await writeFile(path.join(dir, 'runc-init.log'), '{"level":"error","msg":"stale"}\n');
  process.env['FAKE_RUNC_MODE'] = 'ok';
  const c = container('c-ok');
  await c.start();
  assert.equal(await c.init.wait(), 0);
  assert.equal((await c.init.stdout.read(100)).toString(), 'out\n');
  assert.ok(Number(await readFile(path.join(dir, 'init.pid'), 'utf8')) > 0);
  await assert.rejects(c.start(), (e: unknown) => e instanceof KccError && e.code === 'AGENT_INVALID_STATE');
});

test('a second StartContainer racing the first is refused at once', async () => {
  process.env['FAKE_RUNC_MODE'] = 'ok';
  const c = container('c-race');
  const results = await Promise.allSettled([c.start(), c.start()]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const rejected = results.find((r) => r.status === 'rejected');
  assert.ok(rejected && (rejected.reason as KccError).code === 'AGENT_INVALID_STATE');
  await c.init.wait();
});

test('runcLogError: last error of JSON lines, records without newline, warnings as fallback, missing file', async () => {
  const f = path.join(dir, 'log.json');
  await writeFile(f, '{"level":"info","msg":"a"}\n{"level":"error","msg":"first"}{"level":"error","msg":"second"}');
  assert.equal(await runcLogError(f), 'second');
  await writeFile(f, '{"level":"warning","msg":"only a warning"}\nnot json\n');
  assert.equal(await runcLogError(f), 'only a warning');
  assert.equal(await runcLogError(path.join(dir, 'missing.json')), '');
});

test('short runc commands: a failure without stderr still has a reason', async () => {
  process.env['FAKE_RUNC_MODE'] = 'silent';
  await assert.rejects(runc.exec(['kill', 'x', 'KILL']), (e: unknown) => e instanceof KccError && e.message === 'runc kill failed: exit status 1, no message');
});
