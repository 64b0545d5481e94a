import type { Command } from 'commander';
import { isKccError } from '@kata-cc/errors';
import { compile, parseJson, toJsonText } from '@kata-cc/rego';
import type { ModuleSource } from '@kata-cc/rego';
import { writeOut } from '../context.js';
import { cliError } from '../errors.js';
import { readInput } from '../files.js';

interface PolicyEvalOpts {
  policy: string[];
  data?: string;
  input?: string;
  query: string;
  regoVersion: string;
  strict?: boolean;
  timeoutMs: string;
  quiet?: boolean;
}

async function readJson(path: string, option: string): Promise<unknown> {
  const text = (await readInput(path, option)).toString('utf8');
  try {
    // parseJson keeps integers beyond 2^53 exact, as OPA reads its input.
    return parseJson(text);
  } catch (cause) {
    throw cliError('KBSCLI_USAGE', `${option} "${path}" is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Evaluates a query against local policy files with the same engine the KBS and the guest
 * agent use, so an admin can try a policy before uploading it. Exit codes differ from the
 * other subcommands on purpose (like `opa eval --fail-defined` scripts expect):
 * 0 defined (value printed as JSON), 1 undefined (nothing printed), 2 any error.
 */
async function policyEval(opts: PolicyEvalOpts): Promise<number> {
  if (opts.regoVersion !== 'v0' && opts.regoVersion !== 'v1') throw cliError('KBSCLI_USAGE', `--rego-version must be v0 or v1, not "${opts.regoVersion}"`);
  const timeoutMs = Number(opts.timeoutMs);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw cliError('KBSCLI_USAGE', `--timeout-ms must be a positive integer, not "${opts.timeoutMs}"`);
  const modules: ModuleSource[] = [];
  for (const file of opts.policy) modules.push({ path: file, source: (await readInput(file, '--policy')).toString('utf8') });
  const data = opts.data === undefined ? undefined : await readJson(opts.data, '--data');
  const input = opts.input === undefined ? undefined : await readJson(opts.input, '--input');
  const policy = compile(modules, {
    regoVersion: opts.regoVersion,
    timeoutMs,
    strictBuiltinErrors: opts.strict === true,
    bigints: true,
    // A local tool like `opa eval`: the policy may read the caller's environment.
    runtimeEnv: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)),
  });
  const result = policy.evaluate(opts.query, input, data);
  // print() output goes to stderr so stdout stays machine-readable JSON.
  if (!opts.quiet) for (const line of result.prints) process.stderr.write(`${line}\n`);
  if (!result.defined) return 1;
  await writeOut(`${toJsonText(result.value, 2)}\n`);
  return 0;
}

export function registerPolicyEval(program: Command): void {
  const policy = program.commands.find((c) => c.name() === 'policy') ?? program.command('policy').description('Work with Rego policies locally');
  policy
    .command('eval')
    .description('Evaluate a Rego query against local policy files (the engine the KBS and the kata agent use)')
    .requiredOption('--policy <file>', 'Rego module (repeat for several)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--data <file>', 'base data document (JSON)')
    .option('--input <file>', 'input document (JSON; - reads stdin)')
    .requiredOption('--query <ref>', 'query, e.g. data.policy.allow')
    .option('--rego-version <v>', 'syntax of modules without `import rego.v1` / `future.keywords` (v0 or v1)', 'v1')
    .option('--strict', 'builtin errors (bad types, division by zero) fail the evaluation instead of being undefined')
    .option('--timeout-ms <ms>', 'time budget of the evaluation', '5000')
    .option('--quiet', 'do not copy print() output to stderr')
    .addHelpText(
      'after',
      `
Examples:
  kbs-cli policy eval --policy resource-policy.rego --input input.json --query data.policy.allow
  kbs-cli policy eval --policy policy.rego --rego-version v0 --input req.json --query data.agent_policy.CreateContainerRequest

Exit codes: 0 the query is defined (its value is printed as JSON), 1 undefined (nothing printed),
            2 error (message on stderr). print() output goes to stderr.`,
    )
    .action(async (opts: PolicyEvalOpts) => {
      try {
        process.exitCode = await policyEval(opts);
      } catch (err) {
        const code = isKccError(err) ? ` [${err.code}]` : '';
        process.stderr.write(`kbs-cli: error: ${err instanceof Error ? err.message : String(err)}${code}\n`);
        process.exitCode = 2;
      }
    });
}
