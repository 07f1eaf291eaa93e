// Every query of every provisioned dashboard, sent as the plugin sends it (its own request
// shaping, with the dashboard's variables filled the way Grafana fills them) to the real
// service on a database holding demo traffic that came in through the ingest API and a
// rollup refresh. Each query must come back without an error, with frames, and with the
// fields the panel picks by name. Once as a tenant (the default data source), once as an
// admin choosing the tenant (the "all tenants" data source).
import { backfill } from '../../src/demo/run';
import { refreshRollups } from '../../src/db/rollups';
import type { RunningService } from '../../src/service';
import { allPanels, loadDashboards } from '../support/bundle';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { buildQueryBodies, type QueryBody, type SavedTarget, type VariableValues } from '../support/pluginRequests';
import { post, startTestService, tokenFor } from '../support/service';

const TENANT = '11111111-1111-4111-8111-111111111111';
const SIX_HOURS = 6 * 3_600_000;
const dashboards = loadDashboards();

interface Frame {
  schema: { name?: string; fields: Array<{ name: string; type: string }> };
  data: { values: unknown[][] };
}

let db: TestDatabase;
let service: RunningService;
let url: string;
const tokens: Record<'tenant' | 'admin', string> = { tenant: '', admin: '' };

beforeAll(async () => {
  db = await createTestDatabase('grafana_queries');
  ({ service, url } = await startTestService(db));
  const ingest = await tokenFor(db, TENANT, ['ingest']);
  tokens.tenant = await tokenFor(db, TENANT, ['read']);
  tokens.admin = await tokenFor(db, null, ['read', 'admin']);
  await backfill({ url, token: ingest }, { hours: 3, rate: 2, quiet: true });
  await refreshRollups(db.pool);
}, 300_000);

afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

async function send(body: QueryBody, token: string): Promise<Record<string, { frames: Frame[]; error?: { message: string } }>> {
  const response = await post(`${url}/v1/query`, token, body);
  if (response.status !== 200) throw new Error(`POST /v1/query answered ${response.status}: ${JSON.stringify(response.body).slice(0, 500)}`);
  return response.body.results;
}

function range(): { from: number; to: number } {
  const to = Date.now();
  return { from: to - SIX_HOURS, to };
}

/** A variable's options, by running its query as Grafana does; the frame's "value" field (else the first). */
async function variableOptions(dashboard: any, name: string, values: VariableValues, token: string): Promise<string[]> {
  const variable = dashboard.templating.list.find((v: any) => v.name === name);
  const [body] = buildQueryBodies([variable.query], values, range());
  const result = (await send(body!, token))[variable.query.refId]!;
  if (result.error) throw new Error(`variable ${name}: ${result.error.message}`);
  const frame = result.frames[0]!;
  const index = Math.max(0, frame.schema.fields.findIndex((f) => f.name === 'value'));
  return (frame.data.values[index] ?? []).map(String);
}

/** Field names a panel picks: filterFieldsByName names and byName overrides. */
function pickedFields(panel: any): string[] {
  const names = new Set<string>();
  for (const t of panel.transformations ?? []) {
    if (t.id === 'filterFieldsByName') for (const name of t.options.include.names) names.add(name);
  }
  for (const o of panel.fieldConfig?.overrides ?? []) if (o.matcher.id === 'byName') names.add(o.matcher.options);
  return [...names];
}

describe.each([
  ['a tenant token (the default data source)', 'tenant' as const],
  ['an admin token choosing the tenant (the all-tenants data source)', 'admin' as const],
])('with %s', (_label, who) => {
  describe.each(dashboards.map((d) => [d.file, d.json] as const))('%s', (_file, dashboard) => {
    let values: VariableValues;

    beforeAll(async () => {
      const token = tokens[who];
      const tenants = await variableOptions(dashboard, 'tenant', {}, token);
      expect(tenants).toContain(TENANT);
      values = { tenant: who === 'admin' ? TENANT : tenants[0]! };
      for (const name of ['endpoint', 'fingerprint']) {
        if (!dashboard.templating.list.some((v: any) => v.name === name)) continue;
        const options = await variableOptions(dashboard, name, values, token);
        expect([name, options.length > 0]).toEqual([name, true]);
        values[name] = options[0]!;
      }
    });

    it.each(allPanels(dashboard).filter((p) => p.targets?.length).map((p) => [`${p.id} ${p.title}`, p] as const))(
      'panel %s returns frames with the fields it picks',
      async (_title, panel) => {
        const bodies = buildQueryBodies(panel.targets as SavedTarget[], values, range());
        expect(bodies.length).toBeGreaterThan(0);
        const frames: Frame[] = [];
        for (const body of bodies) {
          const results = await send(body, tokens[who]);
          for (const query of body.queries) {
            const result = results[query.refId];
            expect([query.refId, result?.error?.message ?? 'no error']).toEqual([query.refId, 'no error']);
            expect([query.refId, (result?.frames ?? []).length > 0]).toEqual([query.refId, true]);
            frames.push(...result!.frames);
          }
        }
        // Demo traffic fills every panel but the advice ones (the optimizer has not run here).
        if (!panel.targets.every((t: SavedTarget) => t.queryType === 'recommendations')) {
          expect([panel.title, frames.some((f) => (f.data.values[0] ?? []).length > 0)]).toEqual([panel.title, true]);
        }
        const fieldNames = new Set(frames.flatMap((f) => f.schema.fields.map((field) => field.name)));
        for (const name of pickedFields(panel)) expect([name, fieldNames.has(name)]).toEqual([name, true]);
      },
    );

    it('answers its annotation queries', async () => {
      for (const annotation of dashboard.annotations.list.filter((a: any) => a.target)) {
        const [body] = buildQueryBodies([annotation.target], values, range());
        const result = (await send(body!, tokens[who]))[annotation.target.refId];
        expect([annotation.name, result?.error?.message ?? 'no error']).toEqual([annotation.name, 'no error']);
        expect(result!.frames.length).toBeGreaterThan(0);
      }
    });
  });
});
