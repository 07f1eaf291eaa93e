// SQL of the read path: named parameters, and the rows of a range (rangeRowsSql) that
// every total and ranking sums.
import type { RangePieces } from './plan';

export interface Statement {
  text: string;
  values: unknown[];
}

/**
 * A statement with named parameters (`:name`, cast as usual: `:tenant::uuid`) turned
 * into PostgreSQL's positional ones. Every name used must be given, and every name given
 * used once or more; a mistake throws rather than sending a statement that reads the
 * wrong value.
 */
export function sql(text: string, params: Record<string, unknown>): Statement {
  const positions = new Map<string, number>();
  const values: unknown[] = [];
  const out = text.replace(/(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    if (!(name in params)) throw new Error(`sql: no value for :${name}`);
    let position = positions.get(name);
    if (position === undefined) {
      values.push(params[name]);
      position = values.length;
      positions.set(name, position);
    }
    return `$${position}`;
  });
  for (const name of Object.keys(params)) {
    if (!positions.has(name)) throw new Error(`sql: :${name} is given but not used`);
  }
  return { text: out, values };
}

/** Which keys' rows are read: every key, the tenant's total, one key, or some keys. */
export type KeyFilter =
  | { kind: 'each' }
  | { kind: 'total' }
  | { kind: 'one'; key: string }
  | { kind: 'some'; keys: string[] }
  /** Fingerprints an endpoint has issued (query_endpoints); rollups of fingerprints only. */
  | { kind: 'issuedBy'; endpoint: string };

/**
 * A rollup table as the read path sums it: its key, the columns summed (as float8, exact
 * below 2^53) and the raw rows that answer a range's partial hours with the same columns.
 */
export interface RollupKind {
  table: 'api_metrics_rollup' | 'query_metrics_rollup';
  /** The key column, read as text (endpoint, or query_hash as a decimal string). */
  key: string;
  /** Whether the table has weekly rows (rangePieces' `weeks`). */
  weekly: boolean;
  /** Summed columns; the first is the count a key needs to be shown. */
  sums: readonly string[];
  /** SELECTs of raw rows over [:<span>_from, :<span>_to), grouped by key, with key, sums, max_ms and hist. */
  raw: (span: string, filter: KeyFilter) => string;
  /** Parameters the raw SELECTs read besides the tenant and spans. */
  rawParams: (settings: { latencyTargetMs: number; slowQueryThresholdMs: number }) => Record<string, unknown>;
}

/** The key of api_performance_log's rows, as the rollups store it. */
const ENDPOINT_KEY = `coalesce(nullif(endpoint, ''), '(none)')`;

function endpointCondition(filter: KeyFilter, column: string): string {
  switch (filter.kind) {
    case 'each': return `${column} <> ''`;
    case 'total': return `${column} = ''`;
    case 'one': return `${column} = :key`;
    case 'some': return `${column} = ANY (:keys::text[])`;
    case 'issuedBy': throw new Error('issuedBy filters fingerprints, not endpoints');
  }
}

function rawEndpointCondition(filter: KeyFilter): string {
  switch (filter.kind) {
    case 'each':
    case 'total': return 'true';
    case 'one': return `${ENDPOINT_KEY} = :key`;
    case 'some': return `${ENDPOINT_KEY} = ANY (:keys::text[])`;
    case 'issuedBy': throw new Error('issuedBy filters fingerprints, not endpoints');
  }
}

function fingerprintCondition(filter: KeyFilter, column: string): string {
  switch (filter.kind) {
    case 'each': return 'true';
    case 'one': return `${column} = :key::bigint`;
    case 'some': return `${column} = ANY (:keys::bigint[])`;
    case 'issuedBy': return `${column} IN (SELECT e.query_hash FROM query_endpoints e WHERE e.tenant_id = :tenant::uuid AND e.endpoint = :endpoint)`;
    case 'total': throw new Error('fingerprints have no total row');
  }
}

/**
 * SQL of the packed histogram of raw rows' durations: one element per row, count 1, in
 * no bucket order, which Histogram.addPacked reads as it reads any concatenation. Packing
 * them into one element per bucket (hist_pack) cost the database a function call per
 * group and per bucket, more than the rows' 4 bytes each cost to send.
 */
const rawHistogram = (column: string) => `string_agg(int4send((latency_bucket(${column}) << 20) + 1), ''::bytea)`;

const SPAN = (span: string) => `"timestamp" >= :${span}_from::timestamptz AND "timestamp" < :${span}_to::timestamptz`;

/** Raw request rows grouped by key; with the database time of the queries tagged with each endpoint, or without it. */
function rawRequests(span: string, filter: KeyFilter, withDatabaseTime: boolean): string {
  const key = filter.kind === 'total' ? `''::text` : ENDPOINT_KEY;
  const requests = `SELECT ${key} AS key, count(*) AS requests, count(*) FILTER (WHERE status_code >= 500) AS errors,
                   count(*) FILTER (WHERE status_code BETWEEN 400 AND 499) AS client_errors,
                   count(*) FILTER (WHERE response_time_ms <= :apdex_t) AS satisfied,
                   count(*) FILTER (WHERE response_time_ms > :apdex_t AND response_time_ms <= 4 * :apdex_t) AS tolerating,
                   sum(response_time_ms::float8) AS sum_ms,${withDatabaseTime ? ' 0 AS db_ms, 0 AS db_calls,' : ''} max(response_time_ms) AS max_ms,
                   ${rawHistogram('response_time_ms')} AS hist
              FROM api_performance_log
             WHERE tenant_id = :tenant::uuid AND ${SPAN(span)} AND ${rawEndpointCondition(filter)}
             GROUP BY 1`;
  if (!withDatabaseTime) return requests;
  return `${requests}
            UNION ALL
            SELECT ${key}, 0, 0, 0, 0, 0, 0, sum(execution_time_ms::float8), count(*), NULL, NULL
              FROM query_performance_log
             WHERE tenant_id = :tenant::uuid AND ${SPAN(span)} AND ${rawEndpointCondition(filter)}
             GROUP BY 1`;
}

export const REQUESTS: RollupKind = {
  table: 'api_metrics_rollup',
  key: 'endpoint',
  weekly: false,
  sums: ['requests', 'errors', 'client_errors', 'satisfied', 'tolerating', 'sum_ms', 'db_ms', 'db_calls'],
  raw: (span, filter) => rawRequests(span, filter, true),
  rawParams: (settings) => ({ apdex_t: settings.latencyTargetMs }),
};

/**
 * REQUESTS without the database time, for what needs only the requests (the busiest
 * endpoints): its raw edges read the request log alone, not the query log too.
 */
export const REQUEST_COUNTS: RollupKind = {
  ...REQUESTS,
  sums: ['requests', 'errors', 'client_errors', 'satisfied', 'tolerating', 'sum_ms'],
  raw: (span, filter) => rawRequests(span, filter, false),
};

export const QUERIES: RollupKind = {
  table: 'query_metrics_rollup',
  key: 'query_hash',
  weekly: true,
  sums: ['calls', 'slow_calls', 'total_ms', 'rows_sum'],
  raw: (span, filter) => `SELECT query_hash::text AS key, count(*) AS calls, count(*) FILTER (WHERE execution_time_ms >= :slow_ms) AS slow_calls,
                   sum(execution_time_ms::float8) AS total_ms, coalesce(sum(rows_returned), 0) AS rows_sum, max(execution_time_ms) AS max_ms,
                   ${rawHistogram('execution_time_ms')} AS hist
              FROM query_performance_log
             WHERE tenant_id = :tenant::uuid AND ${SPAN(span)} AND ${fingerprintCondition(filter, 'query_hash')}
             GROUP BY query_hash`,
  rawParams: (settings) => ({ slow_ms: settings.slowQueryThresholdMs }),
};

/** The key condition of a rollup table's rows. */
function rollupCondition(kind: RollupKind, filter: KeyFilter): string {
  return kind.table === 'api_metrics_rollup' ? endpointCondition(filter, 'r.endpoint') : fingerprintCondition(filter, 'r.query_hash');
}

const ROLLUP_SPANS: ReadonlyArray<[keyof RangePieces, '5m' | '1h' | '1d' | '1w']> = [
  ['fiveHead', '5m'], ['hoursHead', '1h'], ['days', '1d'], ['weeks', '1w'], ['daysTail', '1d'], ['hoursTail', '1h'], ['fiveTail', '5m'],
];
const RAW_SPANS: ReadonlyArray<keyof RangePieces> = ['rawHead', 'rawTail'];

/**
 * The pieces of a range that hold time (an empty piece would still cost an index search
 * per key); the daily piece when none does, so that the statement keeps its columns.
 */
function usedSpans(pieces: RangePieces): Array<keyof RangePieces> {
  const used = (Object.keys(pieces) as Array<keyof RangePieces>).filter((name) => pieces[name].to > pieces[name].from);
  return used.length > 0 ? used : ['days'];
}

/**
 * SQL of every row that answers a range's totals, as a parenthesised FROM item with
 * columns key, the kind's sums, max_ms and hist: the rollup rows of the range's pieces
 * (src/rollups/plan.ts rangePieces; one index range each), and the raw rows of its
 * partial 5 minutes (or partial hours) grouped by key; pieces that hold no time are left
 * out. Its parameters: rangeRowsParams.
 */
export function rangeRowsSql(kind: RollupKind, filter: KeyFilter, pieces: RangePieces): string {
  const used = new Set(usedSpans(pieces));
  const columns = [...kind.sums, 'max_ms', 'hist'].map((c) => `r.${c}`).join(', ');
  const rollups = ROLLUP_SPANS.filter(([span]) => used.has(span)).map(([span, resolution]) =>
    `SELECT r.${kind.key}::text AS key, ${columns}
       FROM ${kind.table} r
      WHERE r.tenant_id = :tenant::uuid AND r.resolution = '${resolution}'
        AND r.bucket >= :${span}_from::timestamptz AND r.bucket < :${span}_to::timestamptz AND ${rollupCondition(kind, filter)}`);
  const raws = RAW_SPANS.filter((span) => used.has(span)).map((span) => kind.raw(span, filter));
  return `(${[...rollups, ...raws].join('\n UNION ALL\n')})`;
}

/** Parameters of rangeRowsSql: the tenant, each used piece's span, the filter's keys and the kind's settings. */
export function rangeRowsParams(
  kind: RollupKind,
  tenantId: string,
  pieces: RangePieces,
  filter: KeyFilter,
  settings: { latencyTargetMs: number; slowQueryThresholdMs: number },
): Record<string, unknown> {
  const used = usedSpans(pieces);
  const params: Record<string, unknown> = { tenant: tenantId };
  if (used.some((name) => (RAW_SPANS as readonly string[]).includes(name))) Object.assign(params, kind.rawParams(settings));
  for (const name of used) {
    params[`${name}_from`] = new Date(pieces[name].from);
    params[`${name}_to`] = new Date(pieces[name].to);
  }
  if (filter.kind === 'one') params.key = filter.key;
  if (filter.kind === 'some') params.keys = filter.keys;
  if (filter.kind === 'issuedBy') params.endpoint = filter.endpoint;
  return params;
}
