#!/usr/bin/env node
// Thin launcher: the program is built by `tsc -b` into dist/.
await import('../dist/bin/containerd-shim-kata-cc-v2.js');
