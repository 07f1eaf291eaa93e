#!/usr/bin/env node
// The agog-perf command line. Runs the TypeScript sources directly, so a fresh clone
// needs no build step.
require('tsx/cjs/api').register();
const { main } = require('../src/cli/main.ts');
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`agog-perf: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
