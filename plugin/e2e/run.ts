/**
 * `npm run e2e`: builds the plugin when dist/ is missing or older than its sources,
 * starts the service with demo data and the harness, drives Debian's Chromium through
 * every scene in each language and theme, writes screenshots and report.json to
 * plugin/e2e/artifacts/, and stops everything it started.
 *
 *   node service/bin/run-ts.js plugin/e2e/run.ts [--scene <name substring>] [--quick]
 *
 * --quick runs en-US/dark only; --pictures copies the chosen screenshots of a green run to
 * docs/images (see PICTURES).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium, type BrowserContext } from 'playwright-core';

import { bundleHost, sharedVersions, type SharedVersion } from './bundle';
import { startEnvironment, type Environment } from './environment';
import { runScenes, type Combination, type SceneReport } from './scenes';
import { startHarness, type Harness } from './server';

const PLUGIN_DIR = path.resolve(__dirname, '..');
const DIST = path.join(PLUGIN_DIR, 'dist');
const ARTIFACTS = path.join(__dirname, 'artifacts');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidate = env.CHROMIUM_PATH || '/usr/bin/chromium';
  return fs.existsSync(candidate) ? candidate : undefined;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

function buildPluginIfNeeded(log: (line: string) => void): void {
  const module = path.join(DIST, 'module.js');
  const sources = Math.max(
    newestMtime(path.join(PLUGIN_DIR, 'src')),
    fs.statSync(path.join(PLUGIN_DIR, 'package.json')).mtimeMs
  );
  if (fs.existsSync(module) && fs.statSync(module).mtimeMs >= sources) {
    log('plugin/dist is up to date');
    return;
  }
  log('building the plugin (npm run build --workspace plugin)');
  const result = spawnSync('npm', ['run', 'build'], {
    cwd: PLUGIN_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`the plugin build failed:\n${result.stdout}\n${result.stderr}`);
  }
}

function parseArgs(argv: string[]): { scene?: string; quick: boolean; pictures: boolean } {
  const sceneAt = argv.indexOf('--scene');
  return {
    scene: sceneAt >= 0 ? argv[sceneAt + 1] : undefined,
    quick: argv.includes('--quick'),
    pictures: argv.includes('--pictures'),
  };
}

/** The screenshots committed to docs/images (README, plugin.json info.screenshots), by artifact. */
export const PICTURES: Record<string, string> = {
  'config-editor.png': 'config-save-and-test-ok.en-US.dark.png',
  'query-editor-slow-queries.png': 'query-slowQueries.en-US.dark.png',
  'query-editor-latency-light.png': 'query-latencyPercentiles.en-US.light.png',
  'query-editor-recommendations.png': 'query-recommendations.en-US.dark.png',
  'variable-editor-zh-hans.png': 'variable-editor.zh-Hans.dark.png',
};

function copyPictures(log: (line: string) => void): void {
  const target = path.resolve(PLUGIN_DIR, '..', 'docs', 'images');
  fs.mkdirSync(target, { recursive: true });
  for (const [name, artifact] of Object.entries(PICTURES)) {
    fs.copyFileSync(path.join(ARTIFACTS, artifact), path.join(target, name));
  }
  log(`copied ${Object.keys(PICTURES).length} screenshots to docs/images`);
}

export async function main(argv: string[]): Promise<void> {
  const started = Date.now();
  const log = (line: string) => process.stdout.write(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  const executablePath = chromiumPath();
  if (!executablePath) {
    process.stderr.write(
      `Chromium was not found at ${process.env.CHROMIUM_PATH || '/usr/bin/chromium'}.\n` +
        'Install it with `apt-get install -y chromium` (Debian), or set CHROMIUM_PATH to a Chromium or Chrome binary.\n'
    );
    process.exit(2);
  }
  const options = parseArgs(argv);
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  let environment: Environment | undefined;
  let harness: Harness | undefined;
  let browser: BrowserContext | undefined;
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agog-e2e-chromium-'));
  const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agog-e2e-host-'));
  const stopAll = async () => {
    await browser?.close().catch(() => undefined);
    await harness?.close().catch(() => undefined);
    await environment?.stop().catch(() => undefined);
    fs.rmSync(userDataDir, { recursive: true, force: true });
    fs.rmSync(hostDir, { recursive: true, force: true });
  };
  const onSignal = () => {
    stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let reports: SceneReport[] = [];
  let shared: SharedVersion[] = [];
  try {
    buildPluginIfNeeded(log);
    shared = sharedVersions(PLUGIN_DIR);
    log(`shared modules: ${shared.map((s) => `${s.name} ${s.bundled}`).join(', ')}`);
    const [env] = await Promise.all([
      startEnvironment(log),
      bundleHost(PLUGIN_DIR, hostDir).then(() => log('host page bundled')),
    ]);
    environment = env;
    harness = await startHarness({
      dist: DIST,
      host: hostDir,
      systemjs: path.dirname(require.resolve('systemjs/dist/system.js')),
      icons: path.join(path.dirname(require.resolve('@grafana/ui/package.json')), 'dist', 'public', 'img', 'icons'),
      fonts: path.join(path.dirname(require.resolve('@fontsource/inter/package.json')), 'files'),
    });
    log(`harness on ${harness.url}`);
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 720 },
      deviceScaleFactor: 1,
    });
    const combinations: Combination[] = options.quick
      ? [{ language: 'en-US', theme: 'dark' }]
      : [
          { language: 'en-US', theme: 'dark' },
          { language: 'zh-Hans', theme: 'dark' },
          { language: 'en-US', theme: 'light' },
          { language: 'zh-Hans', theme: 'light' },
        ];
    reports = await runScenes({
      context: browser,
      harness,
      environment,
      combinations,
      artifacts: ARTIFACTS,
      only: options.scene,
      log,
    });
  } catch (err) {
    log(`failed: ${(err as Error).stack ?? err}`);
    reports.push({
      scene: 'harness',
      language: '-',
      theme: '-',
      result: 'failed',
      error: String((err as Error).message ?? err),
      console: [],
      screenshot: null,
      ms: 0,
    });
  } finally {
    await stopAll();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  const failed = reports.filter((r) => r.result !== 'passed');
  const seconds = Math.round((Date.now() - started) / 1000);
  fs.writeFileSync(
    path.join(ARTIFACTS, 'report.json'),
    JSON.stringify(
      {
        finishedAt: new Date().toISOString(),
        seconds,
        passed: reports.length - failed.length,
        failed: failed.length,
        sharedModules: shared,
        scenes: reports,
      },
      null,
      2
    ) + '\n'
  );
  for (const report of failed) {
    process.stdout.write(`FAILED ${report.scene} [${report.language}, ${report.theme}]: ${report.error}\n`);
    for (const message of report.console.filter((m) => m.counted)) {
      process.stdout.write(`  console.${message.type}: ${message.text.slice(0, 400)}\n`);
    }
  }
  process.stdout.write(`e2e: ${reports.length} scenes in ${seconds} s; report in plugin/e2e/artifacts/report.json\n`);
  process.stdout.write(`${reports.length - failed.length} passed, ${failed.length} failed\n`);
  const code = failed.length === 0 && reports.length > 0 ? 0 : 1;
  if (code === 0 && options.pictures) {
    copyPictures(log);
  }
  // embedded-postgres installs an exit hook that ends the process with status 0 once the
  // event loop drains; leave with the scenes' verdict instead.
  process.exit(code);
}
