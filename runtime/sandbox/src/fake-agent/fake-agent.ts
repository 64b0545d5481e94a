/**
 * A FAKE kata agent for tests on hosts where no guest can boot: it serves `grpc.AgentService`
 * and `grpc.Health` over ttRPC on a Unix socket and runs container processes as plain host
 * processes (no VM, no isolation, no image pull: the image reference is only recorded).
 * It exists so the shim's Task API, stdio, exit and fault paths can be tested against real
 * containerd; everything confidential is tested with the real guest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { KccError } from '@kata-cc/errors';
import { TtrpcServer, unaryMethod, type AnyMethodDefinition } from '@kata-cc/ttrpc';
import { AGENT_SERVICE, HEALTH_SERVICE, methodCodecs } from '../agent-client.js';

type Msg = Record<string, unknown>;

interface Proc {
  args: string[];
  env: string[];
  child?: ChildProcess;
  out: Buffer[];
  err: Buffer[];
  outEof: boolean;
  errEof: boolean;
  exit?: number;
  wake: Array<() => void>;
}

interface Container {
  imageRef: string;
  init: Proc;
  execs: Map<string, Proc>;
}

export interface FakeAgentOptions {
  /** Never answer anything (the "agent hangs" fault). */
  hang?: boolean;
  /** Refuse SetPolicy as the real agent does when its policy says `SetPolicyRequest := false`. */
  denySetPolicy?: boolean;
  /** Append each accepted SetPolicy text to this file (so a test sees what the shim sent). */
  policyLog?: string;
}

const notFound = (what: string): KccError => new KccError({ kind: 'NOT_FOUND', code: 'AGENT_NOT_FOUND', message: `${what} not found` });

function newProc(p: Msg): Proc {
  return { args: (p['Args'] ?? []) as string[], env: (p['Env'] ?? []) as string[], out: [], err: [], outEof: false, errEof: false, wake: [] };
}

function notify(p: Proc): void {
  for (const w of p.wake.splice(0)) w();
}

function run(p: Proc): void {
  if (p.args.length === 0 || p.args[0] === '/pause' || p.args.join(' ').includes('sleep 2147483647')) {
    // The pause container: lives until signalled.
    p.outEof = p.errEof = true;
    return;
  }
  const env = Object.fromEntries(p.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const child = spawn(p.args[0] as string, p.args.slice(1), { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  p.child = child;
  child.stdout.on('data', (d: Buffer) => { p.out.push(d); notify(p); });
  child.stderr.on('data', (d: Buffer) => { p.err.push(d); notify(p); });
  child.stdout.on('end', () => { p.outEof = true; notify(p); });
  child.stderr.on('end', () => { p.errEof = true; notify(p); });
  child.stdin.on('error', () => undefined);
  child.on('error', () => { p.outEof = p.errEof = true; p.exit = 127; notify(p); });
  child.on('exit', (code, signal) => {
    p.exit = code ?? 128 + (signal ? (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 }) as Record<string, number>)[signal] ?? 1 : 1);
    notify(p);
  });
}

function signalProc(p: Proc, sig: number): void {
  if (p.exit !== undefined) return;
  if (p.child) {
    try { p.child.kill(sig); } catch { /* gone */ }
  } else if (sig === 9 || sig === 15 || sig === 2) {
    p.exit = 128 + sig;
    notify(p);
  }
}

/** Builds the fake agent's ttRPC server. */
export function fakeAgentServer(options: FakeAgentOptions = {}): TtrpcServer {
  const server = new TtrpcServer();
  const containers = new Map<string, Container>();
  const proc = (cid: unknown, eid: unknown): Proc => {
    const c = containers.get(String(cid));
    if (!c) throw notFound(`container "${String(cid)}"`);
    if (!eid || eid === cid) return c.init;
    const e = c.execs.get(String(eid));
    if (!e) throw notFound(`exec "${String(eid)}"`);
    return e;
  };
  const hang = (): Promise<never> => new Promise(() => undefined);
  const m = (service: string, name: string, handler: (req: Msg) => Promise<Msg>): AnyMethodDefinition => {
    const c = methodCodecs(service, name);
    return unaryMethod({ requestType: c.req, responseType: c.res, handler: options.hang ? hang : handler });
  };
  const read = (which: 'out' | 'err') => async (req: Msg): Promise<Msg> => {
    const p = proc(req['container_id'], req['exec_id']);
    const max = Number(req['len'] ?? 0) || 32768;
    for (;;) {
      const chunks = which === 'out' ? p.out : p.err;
      if (chunks.length > 0) {
        const all = Buffer.concat(chunks.splice(0));
        if (all.length > max) chunks.unshift(all.subarray(max));
        return { data: all.subarray(0, max) };
      }
      if (which === 'out' ? p.outEof : p.errEof) throw new KccError({ kind: 'INTERNAL', code: 'AGENT_EOF', message: 'EOF' });
      await new Promise<void>((r) => p.wake.push(r));
    }
  };
  const empty = async (): Promise<Msg> => ({});
  server.register(HEALTH_SERVICE, {
    Check: m(HEALTH_SERVICE, 'Check', async () => ({ status: 1 })),
    Version: m(HEALTH_SERVICE, 'Version', async () => ({ grpc_version: 'fake', agent_version: 'fake-agent' })),
  });
  server.register(AGENT_SERVICE, {
    CreateSandbox: m(AGENT_SERVICE, 'CreateSandbox', empty),
    DestroySandbox: m(AGENT_SERVICE, 'DestroySandbox', async () => {
      for (const c of containers.values()) for (const p of [c.init, ...c.execs.values()]) signalProc(p, 9);
      setTimeout(() => process.exit(0), 50);
      return {};
    }),
    CopyFile: m(AGENT_SERVICE, 'CopyFile', empty),
    SetPolicy: m(AGENT_SERVICE, 'SetPolicy', async (req) => {
      if (options.denySetPolicy) {
        throw new KccError({ kind: 'PERMISSION_DENIED', code: 'AGENT_POLICY_DENIED', message: 'SetPolicy is blocked by policy: rule SetPolicyRequest is false or undefined' });
      }
      if (options.policyLog) appendFileSync(options.policyLog, String(req['policy'] ?? ''));
      return {};
    }),
    GetGuestDetails: m(AGENT_SERVICE, 'GetGuestDetails', async () => ({ mem_block_size_bytes: 0 })),
    CreateContainer: m(AGENT_SERVICE, 'CreateContainer', async (req) => {
      const id = String(req['container_id']);
      if (containers.has(id)) throw new KccError({ kind: 'ALREADY_EXISTS', code: 'AGENT_CONTAINER_EXISTS', message: `container "${id}" already exists` });
      const storages = (req['storages'] ?? []) as Msg[];
      const imageRef = String(storages.find((s) => s['driver'] === 'image_guest_pull')?.['source'] ?? '');
      const spec = (req['OCI'] ?? {}) as Msg;
      containers.set(id, { imageRef, init: newProc((spec['Process'] ?? {}) as Msg), execs: new Map() });
      return {};
    }),
    StartContainer: m(AGENT_SERVICE, 'StartContainer', async (req) => { run(proc(req['container_id'], '')); return {}; }),
    ExecProcess: m(AGENT_SERVICE, 'ExecProcess', async (req) => {
      const c = containers.get(String(req['container_id']));
      if (!c) throw notFound(`container "${String(req['container_id'])}"`);
      const p = newProc((req['process'] ?? {}) as Msg);
      c.execs.set(String(req['exec_id']), p);
      run(p);
      return {};
    }),
    SignalProcess: m(AGENT_SERVICE, 'SignalProcess', async (req) => {
      const c = containers.get(String(req['container_id']));
      if (!c) throw notFound(`container "${String(req['container_id'])}"`);
      const sig = Number(req['signal']);
      // exec_id "" = every process of the container (kata semantics)
      const targets = req['exec_id'] ? [proc(req['container_id'], req['exec_id'])] : [c.init, ...c.execs.values()];
      for (const p of targets) signalProc(p, sig);
      return {};
    }),
    WaitProcess: m(AGENT_SERVICE, 'WaitProcess', async (req) => {
      const p = proc(req['container_id'], req['exec_id']);
      while (p.exit === undefined) await new Promise<void>((r) => p.wake.push(r));
      return { status: p.exit };
    }),
    ReadStdout: m(AGENT_SERVICE, 'ReadStdout', read('out')),
    ReadStderr: m(AGENT_SERVICE, 'ReadStderr', read('err')),
    WriteStdin: m(AGENT_SERVICE, 'WriteStdin', async (req) => {
      const p = proc(req['container_id'], req['exec_id']);
      const data = req['data'] as Buffer;
      p.child?.stdin?.write(data);
      return { len: data.length };
    }),
    CloseStdin: m(AGENT_SERVICE, 'CloseStdin', async (req) => { proc(req['container_id'], req['exec_id']).child?.stdin?.end(); return {}; }),
    TtyWinResize: m(AGENT_SERVICE, 'TtyWinResize', empty),
    UpdateContainer: m(AGENT_SERVICE, 'UpdateContainer', empty),
    StatsContainer: m(AGENT_SERVICE, 'StatsContainer', async () => ({})),
    GetOOMEvent: m(AGENT_SERVICE, 'GetOOMEvent', hang),
    RemoveContainer: m(AGENT_SERVICE, 'RemoveContainer', async (req) => {
      const c = containers.get(String(req['container_id']));
      if (c) for (const p of [c.init, ...c.execs.values()]) signalProc(p, 9);
      containers.delete(String(req['container_id']));
      return {};
    }),
  });
  return server;
}
