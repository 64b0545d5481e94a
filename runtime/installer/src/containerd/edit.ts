import { parse } from 'smol-toml';
import { installerError } from '../errors.js';
import type { HandlerSpec } from '../handlers.js';
import { CRI_CONTAINERD_TABLE, renderHandlers, renderProxyPlugin, runtimesPath, type ConfigSchema } from './render.js';

const BEGIN = (what: string): string => `# >>> kata-cc-installer: ${what} (managed: removed by kata-cc-installer uninstall) >>>`;
const BEGIN_PREFIX = '# >>> kata-cc-installer:';
const END = '# <<< kata-cc-installer <<<';
const ORIGINAL = '# kata-cc-installer-original: ';

export type EditMode = 'in-place' | 'new-file' | 'drop-in' | 'drop-in-glob';

export interface EditInput {
  /** Current main configuration text with any earlier managed blocks removed; null if absent. */
  readonly base: string | null;
  /** containerd major version, needed only when the configuration file is absent. */
  readonly containerdMajor: number | null;
  readonly specs: readonly HandlerSpec[];
  readonly shimPath: string;
  /** Host path of our own drop-in file when the main config has no `dir/*.toml` import. */
  readonly dropInPath: string;
  /**
   * Guest pull through the kata-cc proxy snapshotter: `per-runtime` sets `snapshotter` on each
   * kata-cc handler (containerd 1.7+, 2.x); `global` also sets CRI's global snapshotter
   * (schema 2 only: the one way on containerd 1.6, and it affects runc pods too). Null: off.
   */
  readonly guestPull?: { readonly mode: 'per-runtime' | 'global'; readonly name: string; readonly socket: string } | null;
}

export interface EditPlan {
  readonly schema: ConfigSchema;
  readonly mode: EditMode;
  /** The new main configuration text (unchanged for `drop-in-glob`). */
  readonly mainConfig: string;
  readonly dropIn: { readonly path: string; readonly text: string } | null;
}

function parseToml(text: string, what: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw installerError('INST_CONFIG_PARSE', `${what} is not valid TOML`, { cause });
  }
}

function dig(obj: unknown, keys: string[]): unknown {
  let cur = obj;
  for (const k of keys) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

/**
 * Plans the configuration change. containerd 1.x merges `imports` by replacing whole plugin
 * sections (containerd issue #5837), so a drop-in would wipe the node's CRI settings: schema
 * 1/2 files get a managed block appended in place. containerd 2.x deep-merges imports (PR
 * #9982), so schema 3 gets a drop-in, placed in an already imported `dir/*.toml` when there is one.
 */
export function planEdit(input: EditInput): EditPlan {
  const gp = input.guestPull ?? null;
  const body = (schema: ConfigSchema): string => {
    if (gp !== null && gp.mode === 'global' && schema !== 2) {
      throw installerError('INST_BAD_ARGUMENT', `--guest-pull global is for containerd 1.6/1.7 (configuration version 2); this configuration is version ${schema === 3 ? '3' : '1'}: use per-runtime`);
    }
    const handlers = renderHandlers(schema, input.specs, input.shimPath, gp?.name ?? null);
    return gp === null ? handlers : `${handlers}${renderProxyPlugin(gp.name, gp.socket)}`;
  };
  if (input.base === null) {
    if (input.containerdMajor === null) {
      throw installerError('INST_CONTAINERD_VERSION_UNKNOWN', 'containerd has no configuration file and its version is unknown; pass --containerd-version');
    }
    const schema: ConfigSchema = input.containerdMajor >= 2 ? 3 : 2;
    let text = `version = ${schema}\n\n${block('runtime handlers', body(schema))}`;
    if (gp?.mode === 'global') text = setGlobalSnapshotter(text, gp.name);
    parseToml(text, 'The generated containerd configuration');
    return { schema, mode: 'new-file', mainConfig: text, dropIn: null };
  }
  const parsed = parseToml(input.base, 'The containerd configuration');
  const version = typeof parsed['version'] === 'number' ? parsed['version'] : 1;
  const schema: ConfigSchema = version >= 3 ? 3 : version === 2 ? 2 : 1;
  const existing = dig(parsed, runtimesPath(schema));
  const taken = input.specs.filter((s) => existing !== null && typeof existing === 'object' && s.name in existing).map((s) => s.name);
  if (taken.length > 0) {
    throw installerError('INST_CONFIG_CONFLICT', `containerd already defines runtime handler(s) ${taken.join(', ')} outside the installer's managed block; remove them first`, { details: { handlers: taken } });
  }
  const proxies = dig(parsed, ['proxy_plugins']);
  if (gp !== null && proxies !== null && typeof proxies === 'object' && gp.name in proxies) {
    throw installerError('INST_CONFIG_CONFLICT', `containerd already defines proxy_plugins.${gp.name} outside the installer's managed block; remove it first`, { details: { proxyPlugin: gp.name } });
  }
  const handlers = body(schema);
  if (schema < 3) {
    const sep = input.base.length === 0 || input.base.endsWith('\n') ? '' : '\n';
    let text = `${input.base}${sep}\n${block('runtime handlers', handlers)}`;
    if (gp?.mode === 'global') text = setGlobalSnapshotter(text, gp.name);
    const edited = parseToml(text, 'The edited containerd configuration (does it define these tables inline?)');
    if (gp?.mode === 'global' && dig(edited, ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'snapshotter']) !== gp.name) {
      throw installerError('INST_CONFIG_PARSE', `Could not set ${CRI_CONTAINERD_TABLE}.snapshotter (is it set with a dotted key?); set it by hand or use --guest-pull per-runtime`);
    }
    return { schema, mode: 'in-place', mainConfig: text, dropIn: null };
  }
  const dropInText = `version = ${version}\n\n${handlers}`;
  parseToml(dropInText, 'The generated drop-in');
  const imports = Array.isArray(parsed['imports']) ? parsed['imports'].filter((x): x is string => typeof x === 'string') : [];
  const glob = imports.find((p) => p.startsWith('/') && p.endsWith('/*.toml'));
  if (glob !== undefined) {
    return { schema, mode: 'drop-in-glob', mainConfig: input.base, dropIn: { path: `${glob.slice(0, -'/*.toml'.length)}/kata-cc.toml`, text: dropInText } };
  }
  const mainConfig = addImport(input.base, [...imports, input.dropInPath]);
  parseToml(mainConfig, 'The edited containerd configuration');
  return { schema, mode: 'drop-in', mainConfig, dropIn: { path: input.dropInPath, text: dropInText } };
}

const CRI_CONTAINERD_HEADER = /^\s*\[\s*plugins\s*\.\s*(?:"io\.containerd\.grpc\.v1\.cri"|'io\.containerd\.grpc\.v1\.cri')\s*\.\s*containerd\s*\]\s*(?:#.*)?$/;

/**
 * Sets CRI's global `containerd.snapshotter` (schema 2) in a managed block: inside the existing
 * `[plugins."io.containerd.grpc.v1.cri".containerd]` table (its own `snapshotter` line kept as
 * an ORIGINAL comment for uninstall), or as that table appended when the file has no header for
 * it (TOML allows defining a parent table after its sub-tables).
 */
function setGlobalSnapshotter(text: string, name: string): string {
  const assignment = `  snapshotter = ${JSON.stringify(name)}`;
  const lines = text.split('\n');
  const header = lines.findIndex((l) => CRI_CONTAINERD_HEADER.test(l));
  if (header === -1) return text + block('global CRI snapshotter', `[${CRI_CONTAINERD_TABLE}]\n${assignment}`);
  let end = lines.length;
  for (let i = header + 1; i < lines.length; i++) if (/^\s*\[/.test(lines[i] ?? '')) { end = i; break; }
  const own = lines.slice(header + 1, end).findIndex((l) => /^\s*snapshotter\s*=/.test(l));
  if (own === -1) {
    const inserted = block('global CRI snapshotter', assignment).replace(/\n$/, '');
    return [...lines.slice(0, header + 1), inserted, ...lines.slice(header + 1)].join('\n');
  }
  const at = header + 1 + own;
  const replaced = block('global CRI snapshotter', `${ORIGINAL}${lines[at] ?? ''}\n${assignment}`).replace(/\n$/, '');
  return [...lines.slice(0, at), replaced, ...lines.slice(at + 1)].join('\n');
}

function block(what: string, body: string): string {
  return `${BEGIN(what)}\n${body}${body.endsWith('\n') ? '' : '\n'}${END}\n`;
}

/** Sets the top-level `imports`, keeping the original assignment as comments for uninstall. */
function addImport(text: string, imports: string[]): string {
  const lines = text.split('\n');
  const firstTable = lines.findIndex((l) => /^\s*\[/.test(l));
  const topEnd = firstTable === -1 ? lines.length : firstTable;
  const start = lines.slice(0, topEnd).findIndex((l) => /^\s*imports\s*=/.test(l));
  const assignment = `imports = ${JSON.stringify(imports)}`;
  if (start === -1) return block('imports', assignment) + text;
  let end = start;
  let depth = 0;
  for (let i = start; i < lines.length; i++) {
    for (const ch of (lines[i] ?? '').replace(/#.*$/, '')) depth += ch === '[' ? 1 : ch === ']' ? -1 : 0;
    end = i;
    if (depth <= 0) break;
  }
  const original = lines.slice(start, end + 1).map((l) => ORIGINAL + l).join('\n');
  const replacement = block('imports', `${original}\n${assignment}`).replace(/\n$/, '');
  return [...lines.slice(0, start), replacement, ...lines.slice(end + 1)].join('\n');
}

/**
 * Removes every managed block and restores lines the installer had replaced. Used when the
 * file changed since install (so the byte-exact backup no longer applies) and before
 * re-installing, which keeps install idempotent.
 */
export function stripManaged(text: string): string {
  const out: string[] = [];
  let inBlock = false;
  for (const line of text.split('\n')) {
    if (!inBlock && line.startsWith(BEGIN_PREFIX)) {
      inBlock = true;
      // An appended handler block was preceded by one blank separator line; drop it again.
      if (line === BEGIN('runtime handlers') && out.at(-1) === '') out.pop();
      continue;
    }
    if (inBlock) {
      if (line === END) inBlock = false;
      else if (line.startsWith(ORIGINAL)) out.push(line.slice(ORIGINAL.length));
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

/** True when the text still carries a managed block. */
export function hasManaged(text: string): boolean {
  return text.split('\n').some((l) => l.startsWith(BEGIN_PREFIX));
}
