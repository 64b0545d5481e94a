#!/usr/bin/env node
// Thin launcher: the program is built by `tsc -b` into dist/.
await import('../dist/bin/kata-cc-snapshotter.js');
