/**
 * Progress on a terminal: one line per phase with its duration, rewritten in place on a TTY,
 * plain lines otherwise (logs, CI). Always on stderr: stdout is the container's.
 */
export class Progress {
  readonly #tty: boolean;
  readonly #quiet: boolean;
  #phase: string | undefined;
  #started = 0;
  readonly #t0 = Date.now();

  constructor(stream: NodeJS.WriteStream = process.stderr, quiet = false) {
    this.#tty = stream.isTTY === true;
    this.#quiet = quiet;
  }

  step(phase: string): void {
    this.#finish();
    this.#phase = phase;
    this.#started = Date.now();
    if (this.#quiet) return;
    process.stderr.write(this.#tty ? `\x1b[2K\r… ${phase}` : `kata-cc: ${phase}\n`);
  }

  #finish(ok = true): void {
    if (this.#phase === undefined || this.#quiet) return;
    const ms = Date.now() - this.#started;
    if (this.#tty) process.stderr.write(`\x1b[2K\r${ok ? '✓' : '✗'} ${this.#phase} (${(ms / 1000).toFixed(1)} s)\n`);
    this.#phase = undefined;
  }

  done(): void {
    this.#finish();
    if (!this.#quiet && this.#tty) process.stderr.write(`  ready after ${((Date.now() - this.#t0) / 1000).toFixed(1)} s\n`);
  }

  fail(): void {
    this.#finish(false);
  }
}
