/**
 * The page that stands in for Grafana's frontend: it provides the shared modules
 * from the npm packages, loads the built plugin through SystemJS as Grafana does,
 * and renders the plugin's editors the way Grafana's pages render them. The scenes
 * (../scenes.ts) drive it through real input and read what it recorded through
 * `window.agogHost`. plugin/e2e/README.md lists what it provides and the Grafana
 * source each part follows.
 */
import * as emotionCss from '@emotion/css';
import * as emotionReact from '@emotion/react';
import * as grafanaData from '@grafana/data';
import {
  createTheme,
  DataFrame,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceApi,
  DataSourceInstanceSettings,
  DataSourcePlugin,
  DataSourceSettings,
  dateTime,
  GrafanaTheme2,
  PluginMeta,
  ThemeContext,
} from '@grafana/data';
import { addResourceBundle, getI18nInstance, getResolvedLanguage, initializeI18n } from '@grafana/i18n/internal';
import * as grafanaRuntime from '@grafana/runtime';
import {
  BackendSrv,
  BackendSrvRequest,
  config,
  FetchError,
  FetchResponse,
  setBackendSrv,
  setEchoSrv,
  setTemplateSrv,
  TemplateSrv,
} from '@grafana/runtime';
import * as grafanaUI from '@grafana/ui';
import { Alert, Button, GlobalStyles, Stack } from '@grafana/ui';
import * as lodash from 'lodash';
import * as React from 'react';
import * as ReactDOM from 'react-dom';
import { createRoot, Root } from 'react-dom/client';
import * as jsxRuntime from 'react/jsx-runtime';
import * as rxjs from 'rxjs';
import { from, lastValueFrom, Observable } from 'rxjs';
import * as rxjsOperators from 'rxjs/operators';

const PLUGIN_ID = 'agog-performance-datasource';
const PLUGIN_BASE = `/public/plugins/${PLUGIN_ID}/`;
/** The uid of the data source instance the harness server keeps settings for. */
const UID = 'agog-e2e';
const PROXY_URL = `/api/datasources/proxy/uid/${UID}`;

interface SystemJSLike {
  set(id: string, module: object): void;
  addImportMap(map: { imports: Record<string, string> }, base?: string): void;
  import(id: string): Promise<Record<string, any>>;
}

declare global {
  interface Window {
    System: SystemJSLike;
    agogHost: HostApi;
    __grafana_public_path__: string;
  }
}

// ---- Grafana's services, as much of them as the plugin reaches ----

/** Grafana's backend_srv: JSON in, the body parsed as JSON when it is JSON, errors as FetchError. */
async function request<T>(options: BackendSrvRequest): Promise<FetchResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json, text/plain, */*', ...(options.headers ?? {}) };
  let body: string | undefined;
  if (options.data !== undefined) {
    body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
    headers['content-type'] = headers['content-type'] ?? 'application/json';
  }
  const search = options.params ? `?${new URLSearchParams(options.params).toString()}` : '';
  const sent = { ...options, url: options.url, headers };
  let response: Response;
  try {
    response = await fetch(options.url + search, { method: options.method ?? 'GET', headers, body });
  } catch (err) {
    const error: FetchError = { status: 0, statusText: String(err), data: {}, config: sent };
    throw error;
  }
  const text = await response.text();
  let data: unknown = text;
  try {
    data = text === '' ? {} : JSON.parse(text);
  } catch {
    // Grafana keeps a body that is not JSON as text.
  }
  const result = {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    headers: response.headers,
    url: response.url,
    type: response.type,
    redirected: response.redirected,
    data: data as T,
    config: sent,
  };
  if (!response.ok) {
    const error: FetchError = { status: response.status, statusText: response.statusText, data, config: sent };
    throw error;
  }
  return result;
}

const backendSrv: BackendSrv = {
  fetch: <T,>(options: BackendSrvRequest): Observable<FetchResponse<T>> => from(request<T>(options)),
  datasourceRequest: <T,>(options: BackendSrvRequest) => request<T>(options),
  request: async <T,>(options: BackendSrvRequest) => (await request<T>(options)).data,
  get: async (url: string, params?: any) => (await request<any>({ url, params })).data,
  delete: async (url: string, data?: unknown) => (await request<any>({ url, method: 'DELETE', data })).data,
  post: async (url: string, data?: unknown) => (await request<any>({ url, method: 'POST', data })).data,
  patch: async (url: string, data?: unknown) => (await request<any>({ url, method: 'PATCH', data })).data,
  put: async (url: string, data?: unknown) => (await request<any>({ url, method: 'PUT', data })).data,
  chunked: () => {
    throw new Error('chunked requests are not provided by the harness');
  },
};

/** Dashboard variables of the scenes: `$endpoint` and `$tenant`, replaced like Grafana's TemplateSrv. */
const VARIABLES: Record<string, string> = {};
const templateSrv = {
  getVariables: () => [],
  containsTemplate: (target?: string) => Boolean(target && /\$\w|\$\{\w/.test(target)),
  updateTimeRange: () => undefined,
  replace: (target?: string, scopedVars?: Record<string, { value: unknown }>) =>
    (target ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
      const name = (braced ?? bare) as string;
      const scoped = scopedVars?.[name]?.value;
      const value = scoped !== undefined ? scoped : VARIABLES[name];
      return value === undefined ? whole : String(value);
    }),
} as unknown as TemplateSrv;

// ---- loading the plugin ----

interface Loaded {
  plugin: DataSourcePlugin<DataSourceApi<any, any>>;
  meta: PluginMeta;
}

function publicPath(): void {
  // Set by the page before this bundle runs, as Grafana's index.html does.
  window.__grafana_public_path__ = window.__grafana_public_path__ ?? '/public/';
}

/** Grafana's sharedDependenciesMap: the modules a plugin gets from Grafana instead of bundling. */
function shareDependencies(): string[] {
  const i18next = getI18nInstance();
  const shared: Record<string, object> = {
    '@emotion/css': emotionCss,
    '@emotion/react': emotionReact,
    '@grafana/data': grafanaData,
    '@grafana/runtime': grafanaRuntime,
    '@grafana/ui': grafanaUI,
    emotion: emotionCss,
    // Grafana shares its own i18next instance, so a plugin's t() reads the resources Grafana loaded.
    i18next,
    lodash: { ...lodash, __useDefault: true },
    react: React,
    'react-dom': ReactDOM,
    'react/jsx-runtime': jsxRuntime,
    rxjs,
    'rxjs/operators': rxjsOperators,
  };
  const imports: Record<string, string> = {};
  for (const [name, module] of Object.entries(shared)) {
    window.System.set(`package:${name}`, module);
    imports[name] = `package:${name}`;
  }
  window.System.addImportMap({ imports });
  return Object.keys(shared);
}

/** Grafana's addTranslationsToI18n: the plugin's locale file for the user's language, before its module. */
async function loadPluginTranslations(meta: PluginMeta & { languages?: string[] }): Promise<string> {
  const languages = meta.languages ?? [];
  const resolved = getResolvedLanguage();
  const chosen = languages.includes(resolved) ? resolved : 'en-US';
  const module = await window.System.import(`${PLUGIN_BASE}locales/${chosen}/${PLUGIN_ID}.json`);
  addResourceBundle(chosen, PLUGIN_ID, module.default);
  return chosen;
}

async function loadPlugin(): Promise<Loaded & { shared: string[]; translations: string }> {
  const meta = (await request<PluginMeta>({ url: `${PLUGIN_BASE}plugin.json` })).data;
  const shared = shareDependencies();
  const translations = await loadPluginTranslations(meta);
  const module = await window.System.import(`${PLUGIN_BASE}module.js`);
  const plugin = module.plugin as DataSourcePlugin<DataSourceApi<any, any>>;
  if (!(plugin instanceof DataSourcePlugin)) {
    throw new Error('module.js does not export a DataSourcePlugin named "plugin"');
  }
  // Grafana sets the meta on the plugin after importing it (importDataSourcePlugin).
  plugin.meta = meta as any;
  return { plugin, meta, shared, translations };
}

// ---- the pages ----

type StoredSettings = DataSourceSettings<any, any>;

async function storedSettings(): Promise<StoredSettings> {
  return (await request<StoredSettings>({ url: `/api/datasources/uid/${UID}` })).data;
}

function instanceSettings(settings: StoredSettings, meta: PluginMeta): DataSourceInstanceSettings<any> {
  return {
    id: settings.id,
    uid: settings.uid,
    type: settings.type,
    name: settings.name,
    meta,
    url: PROXY_URL,
    jsonData: settings.jsonData,
    access: 'proxy',
    readOnly: false,
  };
}

interface TestResult {
  status: string;
  message: string;
}

interface Recorder {
  settings: StoredSettings[];
  queries: any[];
  runs: number;
  /** Each run of the editor's query, in the order the answers came. */
  results: Array<{ target: any; frames: FrameSummary[] }>;
  tests: TestResult[];
}

let recorder: Recorder = { settings: [], queries: [], runs: 0, results: [], tests: [] };

function ConfigPage({ loaded, initial }: { loaded: Loaded; initial: StoredSettings }) {
  const [options, setOptions] = React.useState<StoredSettings>(initial);
  const [result, setResult] = React.useState<TestResult | undefined>();
  const [testing, setTesting] = React.useState(false);
  const Editor = loaded.plugin.components.ConfigEditor!;

  const onOptionsChange = React.useCallback((next: StoredSettings) => {
    recorder.settings.push(next);
    setOptions(next);
  }, []);

  // Grafana's "Save & test": PUT the settings, take back the stored ones (secrets only as
  // secureJsonFields), then build a fresh data source from them and call testDatasource().
  const saveAndTest = async () => {
    setTesting(true);
    setResult(undefined);
    try {
      const saved = (
        await request<{ datasource: StoredSettings }>({
          url: `/api/datasources/uid/${UID}`,
          method: 'PUT',
          data: options,
        })
      ).data.datasource;
      setOptions(saved);
      const ds = instantiate(loaded, saved);
      const tested = (await ds.testDatasource()) as TestResult;
      recorder.tests.push(tested);
      setResult(tested);
    } finally {
      setTesting(false);
    }
  };

  return (
    <Stack direction="column" gap={2}>
      <Editor options={options} onOptionsChange={onOptionsChange} />
      {result && (
        <div data-testid="agog-test-result" data-status={result.status}>
          <Alert
            severity={result.status === 'success' ? 'success' : result.status === 'warning' ? 'warning' : 'error'}
            title={result.message}
          />
        </div>
      )}
      <Stack direction="row" gap={1}>
        <Button variant="primary" onClick={saveAndTest} disabled={testing} data-testid="agog-save-and-test">
          Save &amp; test
        </Button>
      </Stack>
    </Stack>
  );
}

interface FrameSummary {
  refId?: string;
  name?: string;
  length: number;
  fields: Array<{ name: string; type: string; displayName?: string; values: unknown[] }>;
}

function summarize(frames: DataFrame[]): FrameSummary[] {
  return frames.map((frame) => ({
    refId: frame.refId,
    name: frame.name,
    length: frame.length,
    fields: frame.fields.map((field) => ({
      name: field.name,
      type: field.type,
      displayName: field.config.displayNameFromDS ?? field.config.displayName,
      values: Array.from(field.values).slice(0, 5),
    })),
  }));
}

const RANGE_HOURS = 3;

function queryRequest(targets: any[]): DataQueryRequest<any> {
  const to = dateTime();
  const from = dateTime(to.valueOf() - RANGE_HOURS * 3_600_000);
  return {
    requestId: `e2e-${Date.now()}`,
    interval: '1m',
    intervalMs: 60_000,
    maxDataPoints: 500,
    range: { from, to, raw: { from: `now-${RANGE_HOURS}h`, to: 'now' } },
    scopedVars: {},
    targets,
    timezone: 'browser',
    app: 'dashboard',
    startTime: Date.now(),
  };
}

function ResultTable({ frames, errors }: { frames: FrameSummary[]; errors: string[] }) {
  const theme = grafanaUI.useTheme2();
  const cell = { border: `1px solid ${theme.colors.border.weak}`, padding: '2px 8px', fontSize: 12, maxWidth: 220 };
  return (
    <div data-testid="agog-result">
      {errors.map((error) => (
        <Alert key={error} severity="error" title={error} />
      ))}
      {frames.slice(0, 3).map((frame, index) => (
        <table key={index} style={{ borderCollapse: 'collapse', marginTop: 8 }}>
          <caption style={{ textAlign: 'left', color: theme.colors.text.secondary }}>
            {frame.name ?? frame.refId} · {frame.length}
          </caption>
          <thead>
            <tr>
              {frame.fields.slice(0, 7).map((field, column) => (
                <th key={column} style={cell}>
                  {field.displayName ?? field.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {Array.from({ length: Math.min(frame.length, 4) }, (_, row) => (
              <tr key={row}>
                {frame.fields.slice(0, 7).map((field, column) => (
                  <td key={column} style={cell}>
                    {format(field.values[row], field.type)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </div>
  );
}

function format(value: unknown, type: string): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (type === 'time') {
    return dateTime(value as number).format('HH:mm');
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 48 ? `${text.slice(0, 47)}…` : text;
}

type EditorKind = 'query' | 'variable' | 'annotation';

function QueryPage({ ds, kind, initial }: { ds: DataSourceApi<any, any>; kind: EditorKind; initial: any }) {
  const [query, setQuery] = React.useState<any>(initial);
  const [shown, setShown] = React.useState<{ frames: FrameSummary[]; errors: string[] } | undefined>();
  const latest = React.useRef(query);
  latest.current = query;

  const run = React.useCallback(
    async (target: any) => {
      const response = await runTargets(ds, kind, [target]);
      recorder.results.push({ target, frames: response.frames });
      setShown(response);
    },
    [ds, kind]
  );

  const onChange = React.useCallback(
    (next: any) => {
      recorder.queries.push(next);
      latest.current = next;
      setQuery(next);
      // Grafana runs variable and annotation queries whenever their editor reports a change.
      if (kind !== 'query') {
        run(next);
      }
    },
    [kind, run]
  );
  const onRunQuery = React.useCallback(() => {
    recorder.runs += 1;
    // Grafana runs the panel with the query as it stands after the last onChange.
    setTimeout(() => run(latest.current), 0);
  }, [run]);

  const range = queryRequest([]).range;
  let editor: React.ReactNode;
  if (kind === 'query') {
    const Editor = (ds.components as any).QueryEditor;
    editor = (
      <Editor
        datasource={ds}
        query={query}
        onChange={onChange}
        onRunQuery={onRunQuery}
        range={range}
        app="panel-editor"
      />
    );
  } else if (kind === 'variable') {
    const Editor = (ds.variables as any).editor;
    editor = <Editor datasource={ds} query={query} onChange={onChange} onRunQuery={onRunQuery} range={range} />;
  } else {
    const Editor = ds.annotations!.QueryEditor!;
    editor = <Editor datasource={ds} query={query} onChange={onChange} onRunQuery={onRunQuery} range={range} />;
  }
  return (
    <Stack direction="column" gap={2}>
      <div data-testid="agog-editor">{editor}</div>
      {shown && <ResultTable frames={shown.frames} errors={shown.errors} />}
    </Stack>
  );
}

async function runTargets(
  ds: DataSourceApi<any, any>,
  kind: EditorKind,
  targets: any[]
): Promise<{ frames: FrameSummary[]; errors: string[] }> {
  let response: DataQueryResponse;
  if (kind === 'variable') {
    response = await lastValueFrom((ds.variables as any).query(queryRequest(targets)) as Observable<DataQueryResponse>);
  } else if (kind === 'annotation') {
    const prepared = targets.map((target) => ds.annotations!.prepareAnnotation!({ target } as any).target);
    response = await lastValueFrom(
      from(Promise.resolve(ds.query(queryRequest(prepared)))) as Observable<DataQueryResponse>
    );
  } else {
    const runnable = targets.filter((target) => !ds.filterQuery || ds.filterQuery(target));
    response = await lastValueFrom(
      from(Promise.resolve(ds.query(queryRequest(runnable)))) as Observable<DataQueryResponse>
    );
  }
  const errors = [...(response.errors ?? []), ...(response.error ? [response.error] : [])].map((e) => e.message ?? '');
  return { frames: summarize(response.data as DataFrame[]), errors: [...new Set(errors)] };
}

// ---- the API the scenes use ----

interface StartInfo {
  language: string;
  resolvedLanguage: string;
  translations: string;
  theme: string;
  shared: string[];
  pluginId: string;
}

export interface HostApi {
  ready: Promise<StartInfo>;
  mountConfig(): Promise<void>;
  mountEditor(kind: EditorKind, query: any): Promise<void>;
  run(kind: EditorKind, targets: any[]): Promise<{ frames: FrameSummary[]; errors: string[] }>;
  recorded(): Recorder;
  setVariables(values: Record<string, string>): void;
}

let root: Root | undefined;
let theme: GrafanaTheme2;
let loaded: Loaded | undefined;

function render(node: React.ReactNode): Promise<void> {
  root?.unmount();
  const container = document.getElementById('root')!;
  root = createRoot(container);
  return new Promise((resolve) => {
    root!.render(
      <ThemeContext.Provider value={theme}>
        <GlobalStyles />
        <div id="agog-page" style={{ padding: 24, display: 'inline-block', minWidth: 760 }}>
          {node}
        </div>
      </ThemeContext.Provider>
    );
    setTimeout(resolve, 0);
  });
}

/** Grafana's DatasourceSrv: a data source instance with its plugin's components attached. */
function instantiate(plugin: Loaded, settings: StoredSettings): DataSourceApi<any, any> {
  const instance = new plugin.plugin.DataSourceClass(instanceSettings(settings, plugin.meta));
  instance.components = plugin.plugin.components;
  return instance;
}

async function dataSource(): Promise<DataSourceApi<any, any>> {
  return instantiate(loaded!, await storedSettings());
}

async function start(): Promise<StartInfo> {
  const params = new URLSearchParams(window.location.search);
  const language = params.get('lang') ?? 'en-US';
  const mode = params.get('theme') === 'light' ? 'light' : 'dark';
  publicPath();
  // Grafana initialises i18n with the user's language and loads its own "grafana"
  // namespace before any plugin loads; i18next resolves the language once that namespace
  // holds strings. Grafana's own strings are not on npm, so this backend answers with one
  // marker string in their place: @grafana/ui shows its English defaults.
  const coreStrings = {
    type: 'backend' as const,
    init: () => undefined,
    read: (lng: string, _namespace: string, callback: (error: null, data: object) => void) =>
      callback(null, { harness: { language: lng } }),
  };
  await initializeI18n({ language, ns: ['grafana'], module: coreStrings as any }, language);
  theme = createTheme({ colors: { mode } });
  config.theme2 = theme;
  config.bootData.user.language = language;
  document.body.style.background = theme.colors.background.primary;
  setBackendSrv(backendSrv);
  setTemplateSrv(templateSrv);
  setEchoSrv({
    addEvent: () => undefined,
    addBackend: () => undefined,
    flush: () => undefined,
    logDebug: () => undefined,
    isProfilingEnabled: () => false,
  } as any);
  // SystemJS comes after this script (see server.ts); wait until the page has it.
  if (document.readyState === 'loading') {
    await new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve, { once: true }));
  }
  const result = await loadPlugin();
  loaded = result;
  return {
    language,
    resolvedLanguage: getI18nInstance().resolvedLanguage ?? '',
    translations: result.translations,
    theme: mode,
    shared: result.shared,
    pluginId: result.meta.id,
  };
}

window.agogHost = {
  ready: start(),
  async mountConfig() {
    recorder = { settings: [], queries: [], runs: 0, results: [], tests: [] };
    const settings = await storedSettings();
    await render(<ConfigPage loaded={loaded!} initial={settings} />);
  },
  async mountEditor(kind, query) {
    recorder = { settings: [], queries: [], runs: 0, results: [], tests: [] };
    const ds = await dataSource();
    await render(<QueryPage ds={ds} kind={kind} initial={query} />);
  },
  async run(kind, targets) {
    return runTargets(await dataSource(), kind, targets);
  },
  recorded: () => recorder,
  setVariables(values) {
    Object.assign(VARIABLES, values);
  },
};
