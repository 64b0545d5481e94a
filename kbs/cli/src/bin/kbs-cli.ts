import { CommanderError } from 'commander';
import { isKccError } from '@kata-cc/errors';
import { buildProgram } from '../program.js';
import { exitCodeOf, hintFor } from '../errors.js';
import { fromTrusteeSyntax } from '../trustee-compat.js';

// kbs-cli prints results on stdout and messages on stderr; exit codes are in README.md.
try {
  await buildProgram().parseAsync(fromTrusteeSyntax(process.argv.slice(2)), { from: 'user' });
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and --version are "errors" to commander; they already printed what they had to.
    process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
  } else {
    const code = isKccError(err) ? ` [${err.code}]` : '';
    process.stderr.write(`kbs-cli: error: ${err instanceof Error ? err.message : String(err)}${code}\n`);
    const hint = hintFor(err);
    if (hint !== undefined) process.stderr.write(`kbs-cli: hint: ${hint}\n`);
    if (!isKccError(err) && err instanceof Error && process.env['KBS_CLI_DEBUG'] !== undefined) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCodeOf(err);
  }
}
