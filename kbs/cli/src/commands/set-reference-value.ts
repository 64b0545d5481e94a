import type { Command } from 'commander';
import { withAdmin } from '../context.js';
import { cliError } from '../errors.js';
import { readInput } from '../files.js';

interface Opts {
  asInteger?: boolean;
  asBool?: boolean;
  asSingleValue?: boolean;
  file?: string;
}

function convert(value: string, opts: Opts): string | number | boolean {
  if (opts.asInteger === true) {
    if (!/^-?\d+$/.test(value)) throw cliError('KBSCLI_USAGE', `Cannot use "${value}" with --as-integer: not an integer`);
    return Number(value);
  }
  if (opts.asBool === true) {
    if (value !== 'true' && value !== 'false') throw cliError('KBSCLI_USAGE', `Cannot use "${value}" with --as-bool: expected true or false`);
    return value === 'true';
  }
  return value;
}

/**
 * The RVPS `Message` that registers sample reference values (trustee `rvps/src/lib.rs`):
 * `{"version":"0.1.0","type":"sample","payload":"<base64 of {name: [values]}>"}`.
 */
export function sampleReferenceValueMessage(name: string, values: unknown): { version: string; type: string; payload: string } {
  return { version: '0.1.0', type: 'sample', payload: Buffer.from(JSON.stringify({ [name]: values })).toString('base64') };
}

/** `kbs-cli set-reference-value <name> <value...> [--as-integer|--as-bool] [--as-single-value]` or `--file`. */
export function registerSetReferenceValue(program: Command): void {
  program
    .command('set-reference-value')
    .description('Register reference values in the KBS RVPS (admin); e.g. set-reference-value mr_td <hex>')
    .argument('[name]', 'reference value name, e.g. mr_td or snp_launch_measurement')
    .argument('[values...]', 'one or more values (stored as a list unless --as-single-value)')
    .option('--as-integer', 'store the values as integers')
    .option('--as-bool', 'store the values as booleans')
    .option('--as-single-value', 'store one value instead of a list')
    .option('--file <file>', 'send this RVPS message JSON as is (other extractors than "sample")')
    .action(async (name: string | undefined, values: string[], opts: Opts, cmd: Command) => {
      let body: unknown;
      if (opts.file !== undefined) {
        if (name !== undefined) throw cliError('KBSCLI_USAGE', 'Cannot combine --file with a name and values');
        const text = (await readInput(opts.file, '--file')).toString('utf8');
        try {
          body = JSON.parse(text) as unknown;
        } catch (cause) {
          throw cliError('KBSCLI_FILE_READ', `Cannot parse --file "${opts.file}": not JSON`, { cause });
        }
      } else {
        if (name === undefined || values.length === 0) throw cliError('KBSCLI_USAGE', 'Cannot set a reference value without a name and at least one value');
        if (opts.asInteger === true && opts.asBool === true) throw cliError('KBSCLI_USAGE', 'Cannot use --as-integer and --as-bool together');
        const converted = values.map((v) => convert(v, opts));
        if (opts.asSingleValue === true && converted.length !== 1) throw cliError('KBSCLI_USAGE', '--as-single-value takes exactly one value');
        body = sampleReferenceValueMessage(name, opts.asSingleValue === true ? converted[0] : converted);
      }
      await withAdmin(cmd, (admin) => admin.call('set reference values', 'POST', '/kbs/v0/reference-value', { json: body }));
      process.stderr.write(`Reference value${name === undefined ? 's' : ` ${name}`} set\n`);
    });
}
