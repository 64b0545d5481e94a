import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hasCode } from '@kata-cc/errors';
import { parseConfig } from '@kata-cc/hypervisor';
import { FAKE_AGENT_MAIN } from '@kata-cc/sandbox';
import type { EventSink, Topic } from './events.js';
import { STATUS } from './process.js';
import { TaskService } from './task-service.js';

const dir = mkdtempSync(path.join(tmpdir(), 'task-svc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function bundle(id: string, spec: Record<string, unknown>): string {
  const b = path.join(dir, id);
  mkdirSync(b, { recursive: true });
  writeFileSync(path.join(b, 'config.json'), JSON.stringify(spec));
  return b;
}

/** FAKE VM + fake agent; events recorded in order. */
function service(): { svc: TaskService; events: Array<{ topic: Topic; event: Record<string, unknown> }>; shutdown: Promise<void> } {
  const events: Array<{ topic: Topic; event: Record<string, unknown> }> = [];
  const sink: EventSink = { publish: (topic, event) => { events.push({ topic, event }); }, flush: async () => undefined };
  let done!: () => void;
  const shutdown = new Promise<void>((r) => { done = r; });
  const config = parseConfig({ hypervisor: { fake: { guest_command: [process.execPath, FAKE_AGENT_MAIN] } }, runtime: { state_dir: path.join(dir, 'state') } });
  const svc = new TaskService({ namespace: 'test', events: sink, loadConfig: () => config, onShutdown: done });
  return { svc, events, shutdown };
}

test('fake: lifecycle, state machine and event order of one container with an exec', async () => {
  const { svc, events, shutdown } = service();
  const b = bundle('c1', { process: { args: ['/bin/sh', '-c', 'sleep 30'] }, annotations: { 'io.kubernetes.cri.image-name': 'r/x:1' } });
  const { pid } = await svc.create({ id: 'c1', bundle: b });
  assert.ok(Number(pid) > 0, 'pid is the VMM pid');
  assert.equal((await svc.state({ id: 'c1' }))['status'], STATUS.created);
  await assert.rejects(svc.create({ id: 'c1', bundle: b }), (e: unknown) => hasCode(e, 'SHIM_ALREADY_EXISTS'));
  await svc.start({ id: 'c1' });
  assert.equal((await svc.state({ id: 'c1' }))['status'], STATUS.running);
  await assert.rejects(svc.start({ id: 'c1' }), (e: unknown) => hasCode(e, 'SHIM_INVALID_STATE'));
  await assert.rejects(svc.delete({ id: 'c1' }), (e: unknown) => hasCode(e, 'SHIM_PROCESS_RUNNING'));

  const spec = Buffer.from(JSON.stringify({ args: ['/bin/sh', '-c', 'exit 4'], cwd: '/' }));
  await svc.exec({ id: 'c1', exec_id: 'e1', spec: { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: spec } });
  await svc.start({ id: 'c1', exec_id: 'e1' });
  assert.equal((await svc.wait({ id: 'c1', exec_id: 'e1' }))['exit_status'], 4);
  await svc.delete({ id: 'c1', exec_id: 'e1' });
  await assert.rejects(svc.state({ id: 'c1', exec_id: 'e1' }), (e: unknown) => hasCode(e, 'SHIM_NOT_FOUND'));

  await svc.kill({ id: 'c1', signal: 9 });
  const w = await svc.wait({ id: 'c1' });
  assert.equal(w['exit_status'], 137);
  await svc.kill({ id: 'c1', signal: 9 }); // stopped: a no-op, as CRI's StopPodSandbox retries expect
  const d = await svc.delete({ id: 'c1' });
  assert.equal(d['exit_status'], 137);
  await svc.shutdown();
  await shutdown;
  const topics = events.map((e) => `${e.topic}${e.event['exec_id'] ? `:${String(e.event['exec_id'])}` : ''}${e.topic === '/tasks/exit' ? `:${String(e.event['id'])}=${String(e.event['exit_status'])}` : ''}`);
  assert.deepEqual(topics, ['/tasks/create', '/tasks/start', '/tasks/exec-added:e1', '/tasks/exec-started:e1', '/tasks/exit:e1=4', '/tasks/exit:c1=137', '/tasks/delete']);
});
