/**
 * The scenes: each mounts one editor in the harness page, drives it with clicks and
 * typing, and checks what the editor emitted, what the plugin answered, and that the
 * console stayed free of errors and warnings.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { BrowserContext, Locator, Page } from 'playwright-core';

import type { Environment } from './environment';
import { TENANT } from './environment';
import type { Harness } from './server';

export type Language = 'en-US' | 'zh-Hans';
export type ThemeMode = 'dark' | 'light';

export interface Combination {
  language: Language;
  theme: ThemeMode;
}

export interface ConsoleMessage {
  type: string;
  text: string;
  location?: string;
  /**
   * false for Chromium's own "Failed to load resource" line about an answer of the data
   * proxy: the browser logs every HTTP error status, and the failure scenes ask for them.
   * Every other error or warning counts against the scene.
   */
  counted: boolean;
}

function counts(text: string, url: string | undefined): boolean {
  return !(
    text.startsWith('Failed to load resource') &&
    url !== undefined &&
    new URL(url).pathname.startsWith('/api/datasources/proxy/')
  );
}

export interface SceneReport {
  scene: string;
  language: string;
  theme: string;
  result: 'passed' | 'failed';
  error?: string;
  console: ConsoleMessage[];
  screenshot: string | null;
  ms: number;
}

interface FrameSummary {
  refId?: string;
  name?: string;
  length: number;
  fields: Array<{ name: string; type: string; displayName?: string; values: unknown[] }>;
}

interface RunResult {
  frames: FrameSummary[];
  errors: string[];
}

interface Recorded {
  settings: any[];
  queries: any[];
  runs: number;
  results: Array<{ target: any; frames: FrameSummary[] }>;
  tests: Array<{ status: string; message: string }>;
}

// ---- messages in the page's language, from the plugin's own locale files ----

const LOCALES = path.resolve(__dirname, '..', 'src', 'locales');

function loadMessages(language: Language): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(LOCALES, language, 'agog-performance-datasource.json'), 'utf8'));
}

function lookup(messages: Record<string, unknown>, key: string): string | undefined {
  let node: unknown = messages;
  for (const part of key.split('.')) {
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined;
  }
  return typeof node === 'string' && node !== '' ? node : undefined;
}

export function translator(language: Language): (key: string, values?: Record<string, string>) => string {
  const own = loadMessages(language);
  const english = loadMessages('en-US');
  return (key, values = {}) => {
    const text = lookup(own, key) ?? lookup(english, key);
    if (text === undefined) {
      throw new Error(`no message ${key}`);
    }
    return text.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) => values[name] ?? whole);
  };
}

// ---- small checks ----

class SceneFailure extends Error {}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new SceneFailure(message);
  }
}

/** Deep equality that ignores properties whose value is undefined, as a saved JSON model does. */
function sameModel(actual: unknown, expected: unknown): boolean {
  return JSON.stringify(sortKeys(actual)) === JSON.stringify(sortKeys(expected));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortKeys);
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])])
    );
  }
  return value;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---- the fields the provisioned dashboards pick, per query type ----

/** As service/test/grafana/dashboards.queries.test.ts reads them: filterFieldsByName names and byName overrides. */
export function dashboardFields(dashboardsDir: string): Record<string, string[]> {
  const byType: Record<string, Set<string>> = {};
  const visit = (panel: any) => {
    for (const child of panel.panels ?? []) {
      visit(child);
    }
    const names = new Set<string>();
    for (const t of panel.transformations ?? []) {
      if (t.id === 'filterFieldsByName') {
        for (const name of t.options?.include?.names ?? []) {
          names.add(name);
        }
      }
    }
    for (const o of panel.fieldConfig?.overrides ?? []) {
      if (o.matcher?.id === 'byName') {
        names.add(o.matcher.options);
      }
    }
    for (const target of panel.targets ?? []) {
      if (target.queryType) {
        byType[target.queryType] = byType[target.queryType] ?? new Set();
        names.forEach((name) => byType[target.queryType].add(name));
      }
    }
  };
  for (const file of fs.readdirSync(dashboardsDir).filter((f) => f.endsWith('.json'))) {
    const dashboard = JSON.parse(fs.readFileSync(path.join(dashboardsDir, file), 'utf8'));
    (dashboard.panels ?? []).forEach(visit);
  }
  return Object.fromEntries(Object.entries(byType).map(([type, names]) => [type, [...names].sort()]));
}

// ---- driving the page ----

interface SceneContext {
  page: Page;
  harness: Harness;
  env: Environment;
  combo: Combination;
  t: (key: string, values?: Record<string, string>) => string;
  fields: Record<string, string[]>;
  /** A fingerprint from the demo data, for queryDetail. */
  fingerprint: string;
}

interface Scene {
  name: string;
  /** Editors are shown in both themes; every scene runs in both languages. */
  run(ctx: SceneContext): Promise<void>;
}

async function recorded(page: Page): Promise<Recorded> {
  return page.evaluate(() => window.agogHost.recorded()) as Promise<Recorded>;
}

async function typeInto(locator: Locator, text: string): Promise<void> {
  await locator.click();
  await locator.press('ControlOrMeta+a');
  await locator.press('Backspace');
  if (text !== '') {
    await locator.pressSequentially(text);
  }
}

/** Types into a field and leaves it with Tab, as a user does; editors commit on blur. */
async function typeAndLeave(locator: Locator, text: string): Promise<void> {
  await typeInto(locator, text);
  await locator.press('Tab');
}

/**
 * Grafana's RadioButtonGroup lays each (transparent) radio input over its label, so a
 * user's click on the label lands on the input. The mouse clicks the label's centre;
 * `force` only skips Playwright's check that the label itself receives the click.
 */
async function pickRadio(page: Page, label: string): Promise<void> {
  await page
    .locator('label', { hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) })
    .first()
    .click({ force: true });
}

/**
 * Grafana's Combobox: open it, type to filter, click the option. A filter typed while the
 * menu was still opening can leave it empty on a loaded machine: then close it and try
 * again, up to three times.
 */
async function pickCombobox(page: Page, id: string, label: string): Promise<void> {
  const input = page.locator(`#${id}`);
  const option = page.getByRole('option', { name: new RegExp(`^${escapeRegExp(label)}`) }).first();
  for (let attempt = 1; ; attempt++) {
    // A menu still closing from the last pick would swallow the click that opens it again.
    await page.getByRole('listbox').waitFor({ state: 'hidden' });
    await input.click();
    await input.press('ControlOrMeta+a');
    await input.pressSequentially(label);
    try {
      await option.waitFor({ timeout: 2_000 });
    } catch {
      await input.press('ArrowDown');
    }
    try {
      await option.click({ timeout: attempt < 3 ? 4_000 : 8_000 });
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
      await input.press('Escape');
    }
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new SceneFailure(`gave up waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Labels whose text does not fit their box (a wrapped field label spills over the row in
 * a real browser with Grafana's font; jsdom has no layout to show it).
 */
async function overflowingLabels(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('#agog-page label'))
      .filter((label) => label.scrollHeight > label.clientHeight + 1 || label.scrollWidth > label.clientWidth + 1)
      .map((label) => (label.textContent ?? '').trim())
  );
}

// ---- config editor scenes ----

async function saveAndTest(ctx: SceneContext): Promise<{ status: string; message: string }> {
  const before = (await recorded(ctx.page)).tests.length;
  await ctx.page.getByTestId('agog-save-and-test').click();
  const tests = await waitFor('the result of Save & test', async () => {
    const now = (await recorded(ctx.page)).tests;
    return now.length > before ? now : undefined;
  });
  const result = tests[tests.length - 1];
  const shown = await ctx.page.getByTestId('agog-test-result').innerText();
  check(shown.includes(result.message), `the page shows "${shown}", not the test result "${result.message}"`);
  return result;
}

async function fillConfig(ctx: SceneContext, url: string, token: string): Promise<void> {
  await typeAndLeave(ctx.page.locator('#agog-config-service-url'), url);
  await typeAndLeave(ctx.page.locator('#agog-config-api-token'), token);
}

function expectTest(result: { status: string; message: string }, status: string, message: string | RegExp): void {
  const matches = typeof message === 'string' ? result.message === message : message.test(result.message);
  check(
    result.status === status && matches,
    `Save & test gave ${result.status} "${result.message}", expected ${status} "${message}"`
  );
}

const configScenes: Scene[] = [
  {
    name: 'config-empty',
    async run(ctx) {
      ctx.harness.setDataSource({}, {});
      await ctx.page.evaluate(() => window.agogHost.mountConfig());
      check((await ctx.page.locator('#agog-config-service-url').inputValue()) === '', 'the service URL is not empty');
      check((await ctx.page.locator('#agog-config-api-token').inputValue()) === '', 'the token is not empty');
      const tenant = await ctx.page.locator('#agog-config-tenant').inputValue();
      check(tenant === ctx.t('configEditor.tenant.notSaved'), `the tenant field says "${tenant}"`);
      check(
        await ctx.page.getByText(ctx.t('configEditor.connection.title')).first().isVisible(),
        'no connection heading'
      );
      const result = await saveAndTest(ctx);
      expectTest(result, 'error', ctx.t('testDatasource.noUrl'));
    },
  },
  {
    name: 'config-filled',
    async run(ctx) {
      ctx.harness.setDataSource({}, {});
      await ctx.page.evaluate(() => window.agogHost.mountConfig());
      await typeAndLeave(ctx.page.locator('#agog-config-service-url'), 'service:8080');
      await waitFor('the invalid-URL message', async () =>
        ctx.page.getByText(ctx.t('configEditor.serviceUrl.invalid')).isVisible()
      );
      await fillConfig(ctx, ctx.env.serviceUrl, ctx.env.tokens.read);
      check(
        !(await ctx.page.getByText(ctx.t('configEditor.serviceUrl.invalid')).isVisible()),
        'the invalid-URL message stayed'
      );
      const last = (await recorded(ctx.page)).settings.at(-1);
      check(last?.jsonData?.serviceUrl === ctx.env.serviceUrl, `jsonData.serviceUrl is ${last?.jsonData?.serviceUrl}`);
      check(last?.secureJsonData?.apiToken === ctx.env.tokens.read, 'secureJsonData.apiToken is not the typed token');
    },
  },
  {
    name: 'config-save-and-test-ok',
    async run(ctx) {
      ctx.harness.setDataSource({}, {});
      await ctx.page.evaluate(() => window.agogHost.mountConfig());
      await fillConfig(ctx, ctx.env.serviceUrl, ctx.env.tokens.read);
      const result = await saveAndTest(ctx);
      const connected = ctx.t('testDatasource.connected', { url: ctx.env.serviceUrl, tenant: TENANT });
      expectTest(result, 'success', new RegExp(`^${escapeRegExp(connected)} `));
      // Saved: the token shows as configured, and the tenant comes from the service.
      await waitFor(
        'the tenant of the saved token',
        async () => (await ctx.page.locator('#agog-config-tenant').inputValue()) === TENANT
      );
      check(
        await ctx.page.locator('#agog-config-api-token').isDisabled(),
        'the saved token is not shown as configured'
      );
      check(
        !JSON.stringify(await ctx.page.evaluate(() => document.body.innerHTML)).includes(ctx.env.tokens.read),
        'the saved token is in the page'
      );
    },
  },
  {
    name: 'config-admin-token',
    async run(ctx) {
      ctx.harness.setDataSource({}, {});
      await ctx.page.evaluate(() => window.agogHost.mountConfig());
      await fillConfig(ctx, ctx.env.serviceUrl, ctx.env.tokens.admin);
      const result = await saveAndTest(ctx);
      const connected = ctx.t('testDatasource.connectedAdmin', { url: ctx.env.serviceUrl });
      expectTest(result, 'success', new RegExp(`^${escapeRegExp(connected)} `));
      const admin = ctx.t('configEditor.tenant.admin');
      await waitFor(
        'the all-tenants tenant field',
        async () => (await ctx.page.locator('#agog-config-tenant').inputValue()) === admin
      );
    },
  },
  {
    name: 'config-token-reset',
    async run(ctx) {
      ctx.harness.setDataSource({ serviceUrl: ctx.env.serviceUrl }, { apiToken: ctx.env.tokens.read });
      await ctx.page.evaluate(() => window.agogHost.mountConfig());
      const token = ctx.page.locator('#agog-config-api-token');
      check(await token.isDisabled(), 'a configured token is not shown as configured');
      await waitFor(
        'the tenant of the configured token',
        async () => (await ctx.page.locator('#agog-config-tenant').inputValue()) === TENANT
      );
      await ctx.page.getByRole('button', { name: /^Reset$/ }).click();
      const last = (await recorded(ctx.page)).settings.at(-1);
      check(
        last?.secureJsonFields?.apiToken === false && last?.secureJsonData?.apiToken === '',
        `reset emitted ${JSON.stringify(last)}`
      );
      check(!(await token.isDisabled()), 'the token field stayed disabled after reset');
      const result = await saveAndTest(ctx);
      expectTest(result, 'error', ctx.t('errors.unauthorized'));
    },
  },
  {
    name: 'config-save-and-test-unreachable',
    async run(ctx) {
      ctx.harness.setDataSource({}, {});
      await ctx.page.evaluate(() => window.agogHost.mountConfig());
      await fillConfig(ctx, ctx.env.deadUrl, ctx.env.tokens.read);
      expectTest(await saveAndTest(ctx), 'error', ctx.t('errors.unreachable', { url: ctx.env.deadUrl }));
    },
  },
  {
    name: 'config-save-and-test-bad-token',
    async run(ctx) {
      ctx.harness.setDataSource({}, {});
      await ctx.page.evaluate(() => window.agogHost.mountConfig());
      await fillConfig(ctx, ctx.env.serviceUrl, 'agog_this_token_does_not_exist');
      expectTest(await saveAndTest(ctx), 'error', ctx.t('errors.unauthorized'));
    },
  },
  {
    name: 'config-save-and-test-no-read-scope',
    async run(ctx) {
      ctx.harness.setDataSource({}, {});
      await ctx.page.evaluate(() => window.agogHost.mountConfig());
      await fillConfig(ctx, ctx.env.serviceUrl, ctx.env.tokens.ingestOnly);
      expectTest(await saveAndTest(ctx), 'error', ctx.t('errors.forbidden'));
    },
  },
];

// ---- query editor scenes, one per query type ----

interface QueryCase {
  type: string;
  /** A type to pick first, for the type a new panel already has. */
  from?: string;
  /** Clicks and typing after the type is picked. */
  drive?: (ctx: SceneContext) => Promise<void>;
  /** The options the saved panel must hold, besides refId, datasource, queryType and schemaVersion. */
  expected: (ctx: SceneContext) => Record<string, unknown>;
  /** Whether the demo data must fill the answer (advice and crossings may be empty). */
  rows: boolean;
}

const ENDPOINT = '/api/orders';

const queryCases: QueryCase[] = [
  { type: 'overview', expected: () => ({}), rows: true },
  { type: 'healthSeries', from: 'overview', expected: () => ({}), rows: true },
  {
    type: 'latencyPercentiles',
    async drive(ctx) {
      await typeAndLeave(ctx.page.locator('#agog-endpoint'), ENDPOINT);
      await typeAndLeave(ctx.page.locator('#agog-percentiles'), '50, 90, 99.9');
      // The switch's own label (the field's label, also for="agog-by-endpoint", comes first).
      await ctx.page.locator('label[for="agog-by-endpoint"]').last().click();
    },
    expected: () => ({ endpoint: ENDPOINT, percentiles: [50, 90, 99.9], byEndpoint: true }),
    rows: true,
  },
  {
    type: 'throughput',
    async drive(ctx) {
      await typeAndLeave(ctx.page.locator('#agog-endpoint'), ENDPOINT);
    },
    expected: () => ({ endpoint: ENDPOINT }),
    rows: true,
  },
  {
    type: 'slowQueries',
    async drive(ctx) {
      await pickRadio(ctx.page, ctx.t('queryEditor.orderBy.p95'));
      await typeAndLeave(ctx.page.locator('#agog-limit'), '5');
    },
    expected: () => ({ orderBy: 'p95', limit: 5 }),
    rows: true,
  },
  {
    type: 'queryDetail',
    async drive(ctx) {
      await typeAndLeave(ctx.page.locator('#agog-query-hash'), ctx.fingerprint);
    },
    expected: (ctx) => ({ queryHash: ctx.fingerprint }),
    rows: true,
  },
  {
    type: 'endpoints',
    async drive(ctx) {
      await pickRadio(ctx.page, ctx.t('queryEditor.endpointOrderBy.rps'));
      await typeAndLeave(ctx.page.locator('#agog-limit'), '8');
    },
    expected: () => ({ endpointOrderBy: 'rps', limit: 8 }),
    rows: true,
  },
  { type: 'resources', expected: () => ({}), rows: true },
  { type: 'storage', expected: () => ({}), rows: true },
  {
    type: 'recommendations',
    async drive(ctx) {
      await pickRadio(ctx.page, ctx.t('queryEditor.severity.critical'));
      await pickRadio(ctx.page, ctx.t('queryEditor.severity.any'));
      await pickCombobox(ctx.page, 'agog-kind', ctx.t('queryEditor.kinds.missingIndex'));
    },
    expected: () => ({ kind: 'missingIndex' }),
    // The optimizer has run on the demo traffic, whose missing index is planted.
    rows: true,
  },
  {
    type: 'annotations',
    async drive(ctx) {
      await pickRadio(ctx.page, ctx.t('queryEditor.source.healthThresholds'));
    },
    expected: () => ({ source: 'healthThresholds' }),
    rows: false,
  },
  {
    type: 'variable',
    async drive(ctx) {
      await pickRadio(ctx.page, ctx.t('queryEditor.variable.fingerprints'));
    },
    expected: () => ({ variable: 'fingerprints' }),
    rows: true,
  },
];

/** The defaults a type starts with when picked (plugin/src/types.ts DEFAULT_OPTIONS). */
const TYPE_DEFAULTS: Record<string, Record<string, unknown>> = {
  latencyPercentiles: { percentiles: [50, 95, 99], byEndpoint: false },
  slowQueries: { orderBy: 'total', limit: 10 },
  endpoints: { endpointOrderBy: 'p95', limit: 10 },
  annotations: { source: 'recommendations' },
  variable: { variable: 'endpoints' },
};

function checkFrames(ctx: SceneContext, type: string, result: RunResult, rows: boolean): void {
  check(result.errors.length === 0, `${type}: the query failed: ${result.errors.join('; ')}`);
  check(result.frames.length > 0, `${type}: no frames`);
  if (rows) {
    check(
      result.frames.some((f) => f.length > 0),
      `${type}: the demo data gave no rows`
    );
  }
  const names = new Set(result.frames.flatMap((f) => f.fields.map((field) => field.name)));
  const missing = (ctx.fields[type] ?? []).filter((name) => !names.has(name));
  check(missing.length === 0, `${type}: the frames lack the fields the dashboards use: ${missing.join(', ')}`);
}

function queryScene(qc: QueryCase): Scene {
  return {
    name: `query-${qc.type}`,
    async run(ctx) {
      ctx.harness.setDataSource({ serviceUrl: ctx.env.serviceUrl }, { apiToken: ctx.env.tokens.read });
      // A new panel: Grafana merges getDefaultQuery() into { refId, datasource }.
      const datasource = { type: ctx.harness.pluginId, uid: 'agog-e2e' };
      const start = { refId: 'A', datasource, queryType: 'healthSeries', schemaVersion: 1 };
      await ctx.page.evaluate((query) => window.agogHost.mountEditor('query', query), start);
      if (qc.from) {
        await pickCombobox(ctx.page, 'agog-query-type', ctx.t(`queryEditor.queryTypes.${qc.from}`));
      }
      await pickCombobox(ctx.page, 'agog-query-type', ctx.t(`queryEditor.queryTypes.${qc.type}`));
      await qc.drive?.(ctx);
      const expected = { ...start, queryType: qc.type, ...TYPE_DEFAULTS[qc.type], ...qc.expected(ctx) };
      const seen = await recorded(ctx.page);
      const saved = seen.queries.at(-1);
      check(
        sameModel(saved, expected),
        `the editor emitted ${JSON.stringify(saved)}, expected ${JSON.stringify(expected)}`
      );
      check(seen.runs > 0, 'the editor never asked to run the query');
      // The panel's run, through DataSource.query() and the data proxy.
      const result = (await ctx.page.evaluate((target) => window.agogHost.run('query', [target]), saved)) as RunResult;
      checkFrames(ctx, qc.type, result, qc.rows);
      await waitFor('the result table', async () => ctx.page.getByTestId('agog-result').isVisible());
      check(!(await ctx.page.content()).includes(ctx.env.tokens.read), 'the token reached the page');
    },
  };
}

/** An admin token reads the tenant typed into the query editor. */
const adminTenantScene: Scene = {
  name: 'query-admin-tenant',
  async run(ctx) {
    ctx.harness.setDataSource({ serviceUrl: ctx.env.serviceUrl }, { apiToken: ctx.env.tokens.admin });
    const datasource = { type: ctx.harness.pluginId, uid: 'agog-e2e' };
    const start = { refId: 'A', datasource, queryType: 'healthSeries', schemaVersion: 1 };
    await ctx.page.evaluate((query) => window.agogHost.mountEditor('query', query), start);
    await pickCombobox(ctx.page, 'agog-query-type', ctx.t('queryEditor.queryTypes.endpoints'));
    await typeAndLeave(ctx.page.locator('#agog-tenant'), TENANT);
    const saved = (await recorded(ctx.page)).queries.at(-1);
    const expected = { ...start, queryType: 'endpoints', ...TYPE_DEFAULTS.endpoints, tenantId: TENANT };
    check(
      sameModel(saved, expected),
      `the editor emitted ${JSON.stringify(saved)}, expected ${JSON.stringify(expected)}`
    );
    const result = (await ctx.page.evaluate((target) => window.agogHost.run('query', [target]), saved)) as RunResult;
    checkFrames(ctx, 'endpoints', result, true);
    await waitFor('the result table', async () => ctx.page.getByTestId('agog-result').isVisible());
    check(!(await ctx.page.content()).includes(ctx.env.tokens.admin), 'the token reached the page');
  },
};

/** Bad input shows the reason at the field and is never run. */
const validationScene: Scene = {
  name: 'query-validation',
  async run(ctx) {
    ctx.harness.setDataSource({ serviceUrl: ctx.env.serviceUrl }, { apiToken: ctx.env.tokens.read });
    const datasource = { type: ctx.harness.pluginId, uid: 'agog-e2e' };
    const start = { refId: 'A', datasource, queryType: 'slowQueries', schemaVersion: 1, orderBy: 'total', limit: 10 };
    await ctx.page.evaluate((query) => window.agogHost.mountEditor('query', query), start);
    const shows = (message: string) =>
      waitFor(`"${message}"`, async () => ctx.page.getByText(message, { exact: true }).first().isVisible());

    await typeAndLeave(ctx.page.locator('#agog-limit'), '500');
    await shows(ctx.t('validation.limitRange', { min: '1', max: '100' }));
    await typeAndLeave(ctx.page.locator('#agog-tenant'), 'not-a-tenant');
    await shows(ctx.t('validation.tenantFormat'));
    const afterBadInput = await recorded(ctx.page);
    check(afterBadInput.runs === 0, `the editor ran a query with bad input ${afterBadInput.runs} time(s)`);

    await typeAndLeave(ctx.page.locator('#agog-tenant'), '');
    await typeAndLeave(ctx.page.locator('#agog-limit'), '7');
    const fixed = await recorded(ctx.page);
    check(fixed.runs > 0, 'the editor did not run the query once the input was fixed');
    check(
      sameModel(fixed.queries.at(-1), { ...start, limit: 7 }),
      `the fixed query is ${JSON.stringify(fixed.queries.at(-1))}`
    );

    await pickCombobox(ctx.page, 'agog-query-type', ctx.t('queryEditor.queryTypes.latencyPercentiles'));
    await typeAndLeave(ctx.page.locator('#agog-percentiles'), '50, abc');
    await shows(ctx.t('validation.percentilesInvalid'));
    const percentiles = (await recorded(ctx.page)).queries.at(-1)?.percentiles;
    check(sameModel(percentiles, [50, 95, 99]), `bad percentiles reached the query: ${JSON.stringify(percentiles)}`);

    await pickCombobox(ctx.page, 'agog-query-type', ctx.t('queryEditor.queryTypes.queryDetail'));
    await shows(ctx.t('validation.queryHashRequired'));
    await typeAndLeave(ctx.page.locator('#agog-query-hash'), 'xyz');
    await shows(ctx.t('validation.queryHashFormat'));
  },
};

// ---- variable and annotation editors ----

const editorScenes: Scene[] = [
  {
    name: 'variable-editor',
    async run(ctx) {
      ctx.harness.setDataSource({ serviceUrl: ctx.env.serviceUrl }, { apiToken: ctx.env.tokens.read });
      // A variable saved as a plain string, as a hand-written dashboard may hold it.
      await ctx.page.evaluate(() => window.agogHost.mountEditor('variable', 'endpoints'));
      await waitFor('the migrated variable query', async () => (await recorded(ctx.page)).queries.length > 0);
      await pickRadio(ctx.page, ctx.t('queryEditor.variable.fingerprints'));
      const seen = await waitFor('the fingerprint options', async () => {
        const now = await recorded(ctx.page);
        return now.results.some((r) => r.target?.variable === 'fingerprints') ? now : undefined;
      });
      const saved = seen.queries.at(-1);
      check(
        sameModel(saved, { refId: 'variable', queryType: 'variable', schemaVersion: 1, variable: 'fingerprints' }),
        `the variable editor emitted ${JSON.stringify(saved)}`
      );
      const frame = seen.results.find((r) => r.target?.variable === 'fingerprints')?.frames[0];
      const values = frame?.fields.find((f) => f.name === 'value')?.values ?? [];
      check(
        frame?.fields.some((f) => f.name === 'text') && values.length > 0,
        `the variable query returned no options: ${JSON.stringify(frame)}`
      );
      check(
        values.every((v) => /^[0-9a-f]{16}$/.test(String(v))),
        `fingerprint options are not fingerprints: ${values.join(', ')}`
      );
      const endpoints = (await ctx.page.evaluate(() => window.agogHost.run('variable', ['endpoints']))) as RunResult;
      const endpointValues = endpoints.frames[0]?.fields.find((f) => f.name === 'value')?.values ?? [];
      check(
        endpointValues.includes(ENDPOINT),
        `the endpoints variable lacks ${ENDPOINT}: ${endpointValues.join(', ')}`
      );
      await waitFor('the options table', async () => ctx.page.getByTestId('agog-result').isVisible());
    },
  },
  {
    name: 'annotation-editor',
    async run(ctx) {
      ctx.harness.setDataSource({ serviceUrl: ctx.env.serviceUrl }, { apiToken: ctx.env.tokens.read });
      await ctx.page.evaluate(() => window.agogHost.mountEditor('annotation', { refId: 'Anno' }));
      await pickRadio(ctx.page, ctx.t('queryEditor.source.healthThresholds'));
      await pickRadio(ctx.page, ctx.t('queryEditor.source.recommendations'));
      const ran = (now: Recorded, source: string) => now.results.some((r) => r.target?.source === source);
      const seen = await waitFor('both annotation runs', async () => {
        const now = await recorded(ctx.page);
        return ran(now, 'healthThresholds') && ran(now, 'recommendations') ? now : undefined;
      });
      const saved = seen.queries.at(-1);
      check(
        sameModel(saved, { refId: 'Anno', queryType: 'annotations', schemaVersion: 1, source: 'recommendations' }),
        `the annotation editor emitted ${JSON.stringify(saved)}`
      );
      const answer = seen.results.filter((r) => r.target?.source === 'recommendations').at(-1)?.frames ?? [];
      const names = new Set(answer.flatMap((f) => f.fields.map((field) => field.name)));
      check(
        ['time', 'title', 'text'].every((name) => names.has(name)),
        `annotation frames lack time/title/text: ${[...names].join(', ')}`
      );
    },
  },
];

export const SCENES: Scene[] = [
  ...configScenes,
  ...queryCases.map(queryScene),
  adminTenantScene,
  validationScene,
  ...editorScenes,
];

// ---- running them ----

export interface RunOptions {
  context: BrowserContext;
  harness: Harness;
  environment: Environment;
  combinations: Combination[];
  artifacts: string;
  only?: string;
  log: (line: string) => void;
}

export async function runScenes(options: RunOptions): Promise<SceneReport[]> {
  const { context, harness, environment, artifacts, log } = options;
  const reports: SceneReport[] = [];
  const fields = dashboardFields(path.resolve(__dirname, '..', '..', 'dashboards'));
  const scenes = SCENES.filter((scene) => !options.only || scene.name.includes(options.only));
  let fingerprint = '';

  for (const combo of options.combinations) {
    const page = await context.newPage();
    page.setDefaultTimeout(8_000);
    let current: ConsoleMessage[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') {
        const where = message.location();
        current.push({
          type: message.type(),
          text: message.text(),
          location: where.url ? `${where.url}:${where.lineNumber}` : undefined,
          counted: counts(message.text(), where.url || undefined),
        });
      }
    });
    page.on('pageerror', (error) =>
      current.push({ type: 'pageerror', text: error.stack ?? error.message, counted: true })
    );

    const loadMessages = current;
    await page.goto(`${harness.url}/?lang=${combo.language}&theme=${combo.theme}`);
    let info: { resolvedLanguage: string; translations: string; shared: string[] };
    try {
      await page.waitForFunction(() => window.agogHost !== undefined, undefined, { timeout: 20_000 });
      info = (await page.evaluate(() => window.agogHost.ready)) as typeof info;
    } catch (err) {
      const messages = loadMessages.map((m) => `${m.type}: ${m.text} ${m.location ?? ''}`).join('\n');
      throw new Error(`the harness page did not start: ${(err as Error).message}\n${messages}`);
    }
    const loadProblems: string[] = [];
    if (info.resolvedLanguage !== combo.language || info.translations !== combo.language) {
      loadProblems.push(
        `the page runs in ${info.resolvedLanguage} with the ${info.translations} messages, not ${combo.language}`
      );
    }
    if (loadMessages.some((m) => m.counted)) {
      loadProblems.push('the console was not clean while the plugin loaded');
    }
    reports.push({
      scene: 'load-plugin',
      language: combo.language,
      theme: combo.theme,
      result: loadProblems.length === 0 ? 'passed' : 'failed',
      error: loadProblems.join('; ') || undefined,
      console: [...loadMessages],
      screenshot: null,
      ms: 0,
    });
    if (!fingerprint) {
      await page.evaluate(() =>
        window.agogHost.mountEditor('query', { refId: 'A', queryType: 'overview', schemaVersion: 1 })
      );
      harness.setDataSource({ serviceUrl: environment.serviceUrl }, { apiToken: environment.tokens.read });
      const slow = (await page.evaluate(() =>
        window.agogHost.run('query', [
          { refId: 'A', queryType: 'slowQueries', schemaVersion: 1, orderBy: 'total', limit: 5 },
        ])
      )) as RunResult;
      fingerprint = String(slow.frames[0]?.fields.find((f) => f.name === 'queryHash')?.values[0] ?? '');
    }
    const ctx: SceneContext = {
      page,
      harness,
      env: environment,
      combo,
      t: translator(combo.language),
      fields,
      fingerprint,
    };

    for (const scene of scenes) {
      current = [];
      const startedAt = Date.now();
      const file = `${scene.name}.${combo.language}.${combo.theme}.png`;
      let error: string | undefined;
      try {
        await scene.run(ctx);
        // Let late renders and their warnings arrive before judging the console.
        await page.waitForTimeout(150);
        const spilled = await overflowingLabels(page);
        check(spilled.length === 0, `labels do not fit their boxes: ${spilled.join(' | ')}`);
      } catch (err) {
        error = err instanceof SceneFailure ? err.message : String((err as Error).stack ?? err);
      }
      let screenshot: string | null = null;
      try {
        await page.mouse.move(0, 0);
        await page.locator('#agog-page').screenshot({ path: path.join(artifacts, file) });
        screenshot = file;
      } catch {
        // a page that cannot be pictured has failed already
      }
      const messages = [...current];
      const counted = messages.filter((m) => m.counted);
      if (!error && counted.length > 0) {
        error = `the console was not clean: ${counted.length} error(s)/warning(s)`;
      }
      const report: SceneReport = {
        scene: scene.name,
        language: combo.language,
        theme: combo.theme,
        result: error ? 'failed' : 'passed',
        error,
        console: messages,
        screenshot,
        ms: Date.now() - startedAt,
      };
      reports.push(report);
      log(
        `${report.result === 'passed' ? 'ok  ' : 'FAIL'} ${scene.name} [${combo.language}, ${combo.theme}] ${report.ms} ms${error ? `: ${error.split('\n')[0]}` : ''}`
      );
      for (const message of counted) {
        log(`     console.${message.type}: ${message.text.split('\n')[0].slice(0, 300)} ${message.location ?? ''}`);
      }
    }
    await page.close();
  }
  return reports;
}
