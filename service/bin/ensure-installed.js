#!/usr/bin/env node
// Runs before `npm start` and `npm test` (prestart/pretest): installs the dependencies
// from the lockfile when they are missing or older than it, so the two commands work on
// a fresh clone. Plain Node.js: it runs before anything is installed.
const { spawnSync } = require('node:child_process');
const { statSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
function mtime(file) {
  try {
    return statSync(path.join(root, file)).mtimeMs;
  } catch {
    return undefined;
  }
}
const installed = mtime('node_modules/.package-lock.json');
const lock = mtime('package-lock.json');
if (installed !== undefined && lock !== undefined && installed >= lock) process.exit(0);
process.stderr.write('dependencies missing or older than package-lock.json: running npm ci\n');
const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
