/**
 * Accepts trustee's kbs-client command lines, so scripts written for it run unchanged:
 *   kbs-client --url U --cert-file C config --auth-private-key K set-resource --path P --resource-file F
 * becomes
 *   kbs-cli --url U --cacert C --admin-key K set-resource --path P --file F
 * Only spellings are mapped; behaviour is kbs-cli's (e.g. `set-resource-policy --default`
 * uploads the default policy, not trustee's deny-all quirk).
 */
const GLOBAL_ALIASES: Record<string, string> = { '--cert-file': '--cacert' };
const CONFIG_OPTIONS: Record<string, string> = { '--auth-private-key': '--admin-key', '--admin-token-file': '--admin-token-file' };
const SUBCOMMAND_ALIASES: Record<string, string> = { 'set-sample-reference-value': 'set-reference-value' };
const OPTION_ALIASES: Record<string, string> = { '--resource-file': '--file', '--policy-file': '--file' };

const GLOBALS_WITH_VALUE = /^--(url|cert-file|cacert|admin-key|admin-token-file)$/;

/** Index of the subcommand: the first word that is neither a global option nor its value. */
function subcommandIndex(args: readonly string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (!a.startsWith('-')) return i;
    if (GLOBALS_WITH_VALUE.test(a)) i++;
  }
  return -1;
}

/** Rewrites `args` (without node and script) when they use trustee's `config` group. */
export function fromTrusteeSyntax(args: readonly string[]): string[] {
  const out: string[] = [];
  const moved: string[] = [];
  let i = 0;
  let inConfig = false;
  while (i < args.length) {
    const a = args[i] ?? '';
    const [name = '', inline] = a.split(/=(.*)/s, 2);
    if (!inConfig && a === 'config' && i === subcommandIndex(args)) {
      inConfig = true;
      i++;
      // Options of the `config` group come before its subcommand.
      while (i < args.length && (args[i] ?? '').startsWith('--')) {
        const [opt = '', val] = (args[i] ?? '').split(/=(.*)/s, 2);
        const mapped = CONFIG_OPTIONS[opt];
        if (mapped === undefined) break;
        if (val !== undefined) moved.push(`${mapped}=${val}`);
        else moved.push(mapped, args[++i] ?? '');
        i++;
      }
      continue;
    }
    const alias = GLOBAL_ALIASES[name] ?? OPTION_ALIASES[name];
    if (alias !== undefined) out.push(inline === undefined ? alias : `${alias}=${inline}`);
    else out.push(SUBCOMMAND_ALIASES[a] ?? a);
    i++;
  }
  if (!inConfig) return out;
  // The admin credential becomes a global option, placed before the subcommand.
  const sub = out.findIndex((x, idx) => !x.startsWith('-') && !(idx > 0 && /^--(url|cacert|admin-key|admin-token-file)$/.test(out[idx - 1] ?? '')));
  return sub < 0 ? [...out, ...moved] : [...out.slice(0, sub), ...moved, ...out.slice(sub)];
}
