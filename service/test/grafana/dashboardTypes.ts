// Compile-time check of every dashboard in dashboards/ against @grafana/schema's Dashboard
// type (the classic JSON model of Grafana 12.4). `npm run typecheck -w service` compiles
// this file; an unknown key or a value of the wrong type in a dashboard fails the build.
// A dashboard added to dashboards/ must be imported here too;
// test/grafana/dashboards.bundle.test.ts fails when one is missing.
import type { Dashboard } from '@grafana/schema';
import endpoints from '../../../dashboards/endpoints.json';
import fingerprintDetail from '../../../dashboards/fingerprint-detail.json';
import overview from '../../../dashboards/overview.json';
import recommendations from '../../../dashboards/recommendations.json';
import resourcesAndStorage from '../../../dashboards/resources-and-storage.json';
import slowQueries from '../../../dashboards/slow-queries.json';

/**
 * A type as JSON can hold it: JSON imports widen string literals to string, so enum and
 * literal-union types (ThresholdsMode, 'row', ...) become string; numeric enums number.
 */
type IsAny<T> = 0 extends 1 & T ? true : false;
type JsonOf<T> = IsAny<T> extends true
  ? unknown
  : T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends ReadonlyArray<infer E>
        ? Array<JsonOf<E>>
        : T extends object
          ? { [K in keyof T]: JsonOf<T[K]> }
          : T;

type KeysOfUnion<T> = T extends unknown ? keyof T : never;
type ValueAt<S, K> = S extends unknown ? (K extends keyof S ? Exclude<S[K], null | undefined> : never) : never;

type DashboardJson = JsonOf<Dashboard>;

/**
 * The paths of the keys in J that the schema S does not know, at any depth, e.g.
 * ".panels[].fieldConfig.defaults.colour"; never when there are none. Assigning an
 * imported JSON value skips TypeScript's own excess-property check, hence this.
 * Queries (objects with a refId) stay open: each data source adds its own fields to DataQuery.
 */
type UnknownKeys<J, S, Path extends string = ''> = unknown extends S
  ? never
  : J extends ReadonlyArray<infer JE>
    ? S extends ReadonlyArray<infer SE>
      ? UnknownKeys<JE, SE, `${Path}[]`>
      : never
    : J extends object
      ? 'refId' extends KeysOfUnion<S>
        ? never
        : {
            [K in keyof J & string]-?: K extends KeysOfUnion<S>
              ? UnknownKeys<J[K], ValueAt<S, K>, `${Path}.${K}`>
              : `${Path}.${K}`;
          }[keyof J & string]
      : never;

/**
 * The first argument must be a DashboardJson; the second compiles only as 'none', which
 * it is when the dashboard has no unknown key (else the error names the keys).
 */
function dashboard<J extends DashboardJson>(
  json: J,
  unknownKeys: [UnknownKeys<J, DashboardJson>] extends [never] ? 'none' : UnknownKeys<J, DashboardJson>,
): DashboardJson {
  void unknownKeys;
  return json;
}

/** Every dashboard file, by file name; compared with the folder's listing by the bundle test. */
export const typeCheckedDashboards: Record<string, DashboardJson> = {
  'endpoints.json': dashboard(endpoints, 'none'),
  'fingerprint-detail.json': dashboard(fingerprintDetail, 'none'),
  'overview.json': dashboard(overview, 'none'),
  'recommendations.json': dashboard(recommendations, 'none'),
  'resources-and-storage.json': dashboard(resourcesAndStorage, 'none'),
  'slow-queries.json': dashboard(slowQueries, 'none'),
};
