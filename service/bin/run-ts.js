#!/usr/bin/env node
// Runs one TypeScript file of this package (benchmarks, scripts) without a build step.
require('tsx/cjs/api').register();
const path = require('node:path');
const file = process.argv[2];
if (!file) { process.stderr.write('usage: run-ts.js <file.ts> [args]\n'); process.exit(2); }
const mod = require(path.resolve(file));
if (typeof mod.main === 'function') {
  Promise.resolve(mod.main(process.argv.slice(3))).then(
    (code) => { process.exitCode = typeof code === 'number' ? code : 0; },
    (err) => { console.error(err); process.exitCode = 1; },
  );
}
