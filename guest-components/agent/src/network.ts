import { readFile, readdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { agentError } from './errors.js';

type Msg = Record<string, unknown>;

/** Runs busybox/iproute2 `ip`; failures become AGENT_NETWORK_FAILED with ip's message. */
function ip(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile('ip', args, (err, stdout, stderr) => {
    if (err) reject(agentError('AGENT_NETWORK_FAILED', `ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
    else resolve(stdout);
  }));
}

const sys = (name: string, file: string): Promise<string> => readFile(`/sys/class/net/${name}/${file}`, 'utf8').then((s) => s.trim(), () => '');

/** kata's types.Interface of every link but lo (addresses as address + prefix length). */
export async function listInterfaces(): Promise<{ Interfaces: Msg[] }> {
  const out: Msg[] = [];
  for (const name of (await readdir('/sys/class/net')).sort()) {
    if (name === 'lo') continue;
    const text = await ip(['addr', 'show', 'dev', name]);
    const IPAddresses = [...text.matchAll(/^\s+(inet6?) ([0-9a-f.:]+)\/(\d+)/gm)]
      .filter((m) => !(m[1] === 'inet6' && (m[2] ?? '').startsWith('fe80')))
      .map((m) => ({ family: m[1] === 'inet6' ? 1 : 0, address: m[2], mask: m[3] }));
    out.push({
      device: name, name, IPAddresses, mtu: Number(await sys(name, 'mtu')) || 0, hwAddr: await sys(name, 'address'),
      devicePath: '', type: '', raw_flags: parseInt((await sys(name, 'flags')) || '0', 16),
    });
  }
  return { Interfaces: out };
}

/** kata's types.Route for the main table (v4 and v6); the default route has an empty dest. */
export async function listRoutes(): Promise<{ Routes: Msg[] }> {
  const routes: Msg[] = [];
  for (const family of [0, 1]) {
    const text = await ip([family ? '-6' : '-4', 'route', 'show']).catch(() => '');
    for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const tok = line.split(/\s+/);
      const get = (k: string): string => { const i = tok.indexOf(k); return i >= 0 ? tok[i + 1] ?? '' : ''; };
      const dest = tok[0] === 'default' ? '' : tok[0] ?? '';
      if (family === 1 && dest.startsWith('fe80')) continue;
      routes.push({ dest, gateway: get('via'), device: get('dev'), source: get('src'), scope: get('scope') === 'link' ? 253 : get('scope') === 'host' ? 254 : 0, family, flags: 0, mtu: Number(get('mtu')) || 0 });
    }
  }
  return { Routes: routes };
}

/**
 * UpdateInterface: the link is found by MAC (as kata's agent does; the host names may differ),
 * renamed if needed, its MTU set, its addresses replaced, and it is brought up.
 */
export async function updateInterface(req: Msg): Promise<Msg> {
  const iface = (req['interface'] ?? {}) as { name?: string; hwAddr?: string; mtu?: number; IPAddresses?: { family?: number; address?: string; mask?: string }[] };
  const links = (await readdir('/sys/class/net')).filter((n) => n !== 'lo');
  let link: string | undefined;
  for (const n of links) if (iface.hwAddr && (await sys(n, 'address')).toLowerCase() === iface.hwAddr.toLowerCase()) link = n;
  link ??= links.find((n) => n === iface.name);
  if (!link) throw agentError('AGENT_NETWORK_FAILED', `No link with MAC ${iface.hwAddr ?? ''} or name ${iface.name ?? ''}`);
  if (iface.name && iface.name !== link) {
    await ip(['link', 'set', 'dev', link, 'down']);
    await ip(['link', 'set', 'dev', link, 'name', iface.name]);
    link = iface.name;
  }
  if (iface.mtu) await ip(['link', 'set', 'dev', link, 'mtu', String(iface.mtu)]);
  if (iface.IPAddresses?.length) {
    await ip(['addr', 'flush', 'dev', link]);
    for (const a of iface.IPAddresses) await ip(['addr', 'add', `${a.address}/${a.mask}`, 'dev', link]);
  }
  await ip(['link', 'set', 'dev', link, 'up']);
  return (await listInterfaces()).Interfaces.find((i) => i['name'] === link) ?? {};
}

/** UpdateRoutes: the main table is replaced by the given routes (link routes before gateway routes). */
export async function updateRoutes(req: Msg): Promise<{ Routes: Msg[] }> {
  const wanted = (((req['routes'] ?? {}) as { Routes?: Msg[] }).Routes ?? []) as { dest?: string; gateway?: string; device?: string; source?: string; scope?: number; family?: number }[];
  const current = (await listRoutes()).Routes as { dest: string; device: string; family: number; gateway: string }[];
  for (const r of current) {
    await ip([r.family ? '-6' : '-4', 'route', 'del', r.dest || 'default', ...(r.gateway ? ['via', r.gateway] : []), ...(r.device ? ['dev', r.device] : [])]).catch(() => undefined);
  }
  const ordered = [...wanted.filter((r) => !r.gateway), ...wanted.filter((r) => r.gateway)];
  for (const r of ordered) {
    await ip([r.family ? '-6' : '-4', 'route', 'replace', r.dest || 'default',
      ...(r.gateway ? ['via', r.gateway] : []), ...(r.device ? ['dev', r.device] : []),
      ...(r.source ? ['src', r.source] : []), ...(r.scope === 253 ? ['scope', 'link'] : [])]);
  }
  return listRoutes();
}

/** AddARPNeighbors: permanent neighbour entries. */
export async function addArpNeighbors(req: Msg): Promise<void> {
  const list = (((req['neighbors'] ?? {}) as { ARPNeighbors?: Msg[] }).ARPNeighbors ?? []) as { toIPAddress?: { address?: string }; device?: string; lladdr?: string }[];
  for (const n of list) {
    if (!n.toIPAddress?.address || !n.lladdr || !n.device) throw agentError('AGENT_NETWORK_FAILED', 'ARP neighbour needs an address, lladdr and device');
    await ip(['neigh', 'replace', n.toIPAddress.address, 'lladdr', n.lladdr, 'dev', n.device, 'nud', 'permanent']);
  }
}
