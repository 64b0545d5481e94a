import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { KccError } from '@kata-cc/errors';
import { AgentClient, openAgentStream, VHOST_VSOCK_DEVICE } from './agent-client.js';

// The host cannot dial a guest CID without vhost-vsock: the vsock path is real up to the
// kernel's connect error (this CI host has no /dev/vhost-vsock); the device path is injected so
// the assertion holds on any host.
test('vsock endpoint on a host without vhost-vsock: SANDBOX_VSOCK_UNAVAILABLE naming the device, no retry loop', async () => {
  const missing = '/nonexistent/vhost-vsock';
  // The VM is reported dead as soon as the first connect is under way: a dial that retried
  // would leave its loop with SANDBOX_VM_DIED (or, without onDead, SANDBOX_AGENT_TIMEOUT after
  // dial_timeout), so SANDBOX_VSOCK_UNAVAILABLE proves the first connect's error ended it.
  const options = { requestTimeoutMs: 1000, dialTimeoutMs: 30_000, vhostVsockDevice: missing, onDead: Promise.resolve() };
  const err = await AgentClient.dial({ kind: 'vsock', cid: 3_000_000_001, port: 1024 }, options).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof KccError, String(err));
  assert.equal(err.code, 'SANDBOX_VSOCK_UNAVAILABLE');
  assert.equal(err.kind, 'FAILED_PRECONDITION');
  assert.match(err.message, /CID 3000000001 port 1024: this host has no \/nonexistent\/vhost-vsock \(modprobe vhost_vsock\)/);
  assert.match(String(err.details?.['vsockCode']), /^VSOCK_(NO_TRANSPORT|TIMEOUT)$/);
  assert.ok(err.cause instanceof KccError);
});

test('the default device is /dev/vhost-vsock and is named when absent', async (t) => {
  assert.equal(VHOST_VSOCK_DEVICE, '/dev/vhost-vsock');
  if (existsSync(VHOST_VSOCK_DEVICE)) return t.skip('this host has /dev/vhost-vsock');
  await assert.rejects(openAgentStream({ kind: 'vsock', cid: 3_000_000_002, port: 1024 }), (e: unknown) =>
    e instanceof KccError && e.code === 'SANDBOX_VSOCK_UNAVAILABLE' && e.message.includes('no /dev/vhost-vsock'));
});

test('unix endpoint: a missing socket is retried until dial_timeout (SANDBOX_AGENT_TIMEOUT)', async () => {
  await assert.rejects(AgentClient.dial({ kind: 'unix', path: '/nonexistent/agent.sock' }, { requestTimeoutMs: 100, dialTimeoutMs: 200 }), (e: unknown) =>
    e instanceof KccError && e.code === 'SANDBOX_AGENT_TIMEOUT' && e.details?.['endpoint'] === '/nonexistent/agent.sock');
});
