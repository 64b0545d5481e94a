import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './paths.js';
import { startNodeProcess } from './processes.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
before(async () => ({ dir, cleanup } = await tempDir('kcc-processes-')));
after(() => cleanup());

async function script(name: string, source: string): Promise<string> {
  const file = path.join(dir, `${name}.mjs`);
  await writeFile(file, source);
  return file;
}

const alive = (pid: number | undefined): boolean => {
  try {
    process.kill(pid ?? -1, 0);
    return true;
  } catch {
    return false;
  }
};

test('startNodeProcess resolves with the ready match (stderr and stdout interleaved), keeps both outputs, stop() ends it', async () => {
  const bin = await script('ready', "console.error('warming up'); console.log('listening on ' + process.env.PORT_X); setInterval(() => {}, 1000);");
  const p = await startNodeProcess(bin, [], { ready: /warming up\s+listening on (\d+)/, env: { PORT_X: '4242' } });
  assert.equal(p.ready[1], '4242');
  assert.match(p.stdout(), /listening on 4242/);
  assert.match(p.stderr(), /warming up/);
  await p.stop();
  assert.equal(alive(p.proc.pid), false);
  await p.stop();
});

test('a process that never becomes ready is killed and the error carries its output', async () => {
  const bin = await script('slow', "console.error('still booting'); console.log('not it'); setInterval(() => {}, 1000);");
  let pid: number | undefined;
  await assert.rejects(
    startNodeProcess(bin, [], { ready: /never/, readyOn: 'stdout', startTimeoutMs: 300 }).catch((e: unknown) => {
      pid = Number(/pid (\d+)/.exec(String(e))?.[1]);
      throw e;
    }),
    /slow \(pid \d+\) was not ready in 0.3 s: [\s\S]*still booting/,
  );
  assert.ok(pid !== undefined && pid > 0);
  assert.equal(alive(pid), false, 'no process left behind');
});

test('a process that exits before it is ready rejects with its exit code and output', async () => {
  const bin = await script('dies', "console.error('bad flag'); process.exit(3);");
  await assert.rejects(startNodeProcess(bin, [], { ready: /ready/ }), /dies \(pid \d+\) exited with 3: bad flag/);
});
