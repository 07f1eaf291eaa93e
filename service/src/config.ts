// The one place that reads process.env. Every setting is validated at start-up; a bad
// value stops the process with a message naming the variable and what it accepts.
// The variable names of the original runbook (DATABASE_URL, PERFORMANCE_*, ...) are a
// compatibility contract. Keep the configuration table in docs/configuration.md in step with this.

import os from 'node:os';

export interface Config {
  databaseUrl: string | undefined;
  metricsEnabled: boolean;
  samplingRate: number;
  slowQueryThresholdMs: number;
  flushIntervalMs: number;
  flushMaxRecords: number;
  queueMaxRecords: number;
  queueMaxBytes: number;
  maxConcurrentFlushes: number;
  ingestWorkers: number;
  bodyLimitBytes: number;
  poolMax: number;
  /** Of poolMax, the connections reserved for the query API; the rest serve ingest, tokens and jobs. */
  queryPoolMax: number;
  /** /v1/query requests one tenant (or one admin token) may have running at once. */
  queryTenantConcurrency: number;
  /** /v1/query requests one tenant may have waiting for a turn; past it, 429. */
  queryTenantQueue: number;
  /** Longest a whole /v1/query request may take, all its queries together. */
  queryRequestTimeoutMs: number;
  poolIdleTimeoutMs: number;
  host: string;
  port: number;
  refreshIntervalMs: number;
  maintenanceIntervalMs: number;
  resourceSampleIntervalMs: number;
  retentionDays: number;
  partitionMonthsAhead: number;
  schedulerEnabled: boolean;
  embeddedDataDir: string | undefined;
  embeddedPort: number;
  latencyTargetMs: number;
  nPlusOneMinQueries: number;
  nPlusOneMinTotalMs: number;
  optimizerIntervalMs: number;
  optimizerWindowMinutes: number;
  optimizerMaxRawRows: number;
  monitoredSchema: string;
  missingIndexMinRows: number;
  errorRateThresholdPercent: number;
  shareDatabaseFindings: boolean;
  serviceTenantId: string;
  /** npm start's demo traffic: undefined = on with the embedded database, off with DATABASE_URL. */
  demo: boolean | undefined;
  /** Databases whose pg_stat_statements the collector reads (src/collector/); empty: off. */
  monitoredDatabases: MonitoredDatabase[];
  collectIntervalMs: number;
}

/** One database the collector reads, and the tenant its statistics belong to. */
export interface MonitoredDatabase {
  /** Stable label of this database in the stored statistics (unique per tenant). */
  name: string;
  url: string;
  tenantId: string;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** A plain (unquoted) PostgreSQL identifier, as MONITORED_SCHEMA must be. */
const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function number(
  env: Env,
  name: string,
  fallback: number,
  { min, max, integer }: { min: number; max: number; integer: boolean },
): number {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  const kind = integer ? 'an integer' : 'a number';
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new ConfigError(name, `expected ${kind} from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  const lower = text.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  throw new ConfigError(name, `expected true or false, got "${text}"`);
}

function databaseUrl(env: Env): string | undefined {
  const text = raw(env, 'DATABASE_URL');
  if (text === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(text)) {
    throw new ConfigError('DATABASE_URL', 'expected a postgres:// or postgresql:// connection URL');
  }
  return text;
}

const POSTGRES_URL_PATTERN = /^postgres(ql)?:\/\//;
const SOURCE_NAME_PATTERN = /^[A-Za-z0-9_.:@/-]{1,100}$/;

/** host:port/database of a connection URL, without user or password: a database's default name. */
export function monitoredDatabaseName(url: string): string {
  try {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}/${database}`;
  } catch {
    return 'monitored';
  }
}

function monitoredEntry(variable: string, value: { url?: unknown; tenantId?: unknown; name?: unknown }): MonitoredDatabase {
  if (typeof value.url !== 'string' || !POSTGRES_URL_PATTERN.test(value.url.trim())) {
    throw new ConfigError(variable.includes('[') ? `${variable}.url` : variable, 'expected a postgres:// or postgresql:// connection URL');
  }
  const url = value.url.trim();
  const tenantVariable = variable.includes('[') ? `${variable}.tenantId` : 'MONITORED_TENANT_ID';
  if (value.tenantId === undefined || value.tenantId === null || value.tenantId === '') {
    throw new ConfigError(tenantVariable, 'required: the tenant (a UUID) whose query statistics this database feeds');
  }
  if (typeof value.tenantId !== 'string' || !UUID_PATTERN.test(value.tenantId.trim())) {
    throw new ConfigError(tenantVariable, `expected a UUID, got ${JSON.stringify(value.tenantId)}`);
  }
  let name = monitoredDatabaseName(url);
  if (value.name !== undefined) {
    if (typeof value.name !== 'string' || !SOURCE_NAME_PATTERN.test(value.name)) {
      throw new ConfigError(`${variable}.name`, 'expected 1 to 100 letters, digits or _ . : @ / -');
    }
    name = value.name;
  }
  return { name, url, tenantId: value.tenantId.trim().toLowerCase() };
}

/**
 * MONITORED_DATABASE_URL + MONITORED_TENANT_ID (one database), and MONITORED_DATABASES, a
 * JSON array of {url, tenantId, name?} (several, each with its own tenant). Both may be set.
 */
function monitoredDatabases(env: Env): MonitoredDatabase[] {
  const list: MonitoredDatabase[] = [];
  const url = raw(env, 'MONITORED_DATABASE_URL');
  const tenantId = raw(env, 'MONITORED_TENANT_ID');
  if (url !== undefined) list.push(monitoredEntry('MONITORED_DATABASE_URL', { url, tenantId }));
  else if (tenantId !== undefined) {
    throw new ConfigError('MONITORED_DATABASE_URL', 'required when MONITORED_TENANT_ID is set: the database whose pg_stat_statements to read');
  }
  const several = raw(env, 'MONITORED_DATABASES');
  if (several !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(several);
    } catch (err) {
      throw new ConfigError('MONITORED_DATABASES', `expected a JSON array of {"url", "tenantId", "name"?}: ${(err as Error).message}`);
    }
    if (!Array.isArray(parsed)) throw new ConfigError('MONITORED_DATABASES', 'expected a JSON array of {"url", "tenantId", "name"?}');
    parsed.forEach((entry, index) => {
      const variable = `MONITORED_DATABASES[${index}]`;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new ConfigError(variable, 'expected an object {"url", "tenantId", "name"?}');
      }
      const unknown = Object.keys(entry).filter((key) => !['url', 'tenantId', 'name'].includes(key));
      if (unknown.length > 0) throw new ConfigError(`${variable}.${unknown[0]}`, 'unknown field (expected url, tenantId, name)');
      list.push(monitoredEntry(variable, entry as Record<string, unknown>));
    });
  }
  const seen = new Set<string>();
  for (const [index, entry] of list.entries()) {
    const key = `${entry.tenantId} ${entry.name}`;
    if (seen.has(key)) {
      // The first entry is never the duplicate, so this one is in MONITORED_DATABASES.
      throw new ConfigError(`MONITORED_DATABASES[${index - (url === undefined ? 0 : 1)}].name`,
        `database "${entry.name}" is configured twice for tenant ${entry.tenantId}; give each a distinct name`);
    }
    seen.add(key);
  }
  return list;
}

export function loadConfig(env: Env = process.env): Config {
  const int = (name: string, fallback: number, min: number, max: number) =>
    number(env, name, fallback, { min, max, integer: true });
  const serviceTenantId = raw(env, 'AGOG_SERVICE_TENANT_ID') ?? '00000000-0000-0000-0000-000000000000';
  if (!UUID_PATTERN.test(serviceTenantId)) {
    throw new ConfigError('AGOG_SERVICE_TENANT_ID', `expected a UUID, got "${serviceTenantId}"`);
  }
  const monitoredSchema = raw(env, 'MONITORED_SCHEMA') ?? 'public';
  if (!IDENTIFIER_PATTERN.test(monitoredSchema)) {
    throw new ConfigError('MONITORED_SCHEMA', `expected a schema name (letters, digits, _ and $, at most 63), got "${monitoredSchema}"`);
  }
  const poolMax = int('DATABASE_POOL_MAX', 30, 2, 1000);
  return {
    databaseUrl: databaseUrl(env),
    metricsEnabled: boolean(env, 'PERFORMANCE_METRICS_ENABLED', true),
    samplingRate: number(env, 'PERFORMANCE_SAMPLING_RATE', 1, { min: 0, max: 1, integer: false }),
    slowQueryThresholdMs: number(env, 'SLOW_QUERY_THRESHOLD_MS', 1000, { min: 1, max: 3_600_000, integer: false }),
    flushIntervalMs: int('METRICS_FLUSH_INTERVAL_MS', 50, 1, 60_000),
    flushMaxRecords: int('METRICS_FLUSH_MAX_RECORDS', 20_000, 1, 1_000_000),
    queueMaxRecords: int('METRICS_QUEUE_MAX_RECORDS', 200_000, 1, 10_000_000),
    queueMaxBytes: int('METRICS_QUEUE_MAX_BYTES', 256 * 1024 * 1024, 1024 * 1024, 16 * 1024 * 1024 * 1024),
    maxConcurrentFlushes: int('METRICS_FLUSH_CONCURRENCY', 2, 1, 16),
    ingestWorkers: int('INGEST_WORKERS', Math.min(4, Math.max(1, os.cpus().length)), 0, 64),
    bodyLimitBytes: int('INGEST_BODY_LIMIT_BYTES', 10 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    poolMax,
    queryPoolMax: int('QUERY_POOL_MAX', Math.max(1, Math.floor(poolMax / 3)), 1, poolMax - 1),
    queryTenantConcurrency: int('QUERY_TENANT_CONCURRENCY', 2, 1, 1000),
    queryTenantQueue: int('QUERY_TENANT_QUEUE', 16, 0, 10_000),
    queryRequestTimeoutMs: int('QUERY_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
    poolIdleTimeoutMs: int('DATABASE_POOL_IDLE_TIMEOUT_MS', 30_000, 0, 3_600_000),
    host: raw(env, 'HOST') ?? '127.0.0.1',
    port: int('PORT', 8080, 0, 65535),
    refreshIntervalMs: int('REFRESH_INTERVAL_MS', 5 * 60_000, 1000, 24 * 3_600_000),
    maintenanceIntervalMs: int('MAINTENANCE_INTERVAL_MS', 24 * 3_600_000, 60_000, 7 * 24 * 3_600_000),
    resourceSampleIntervalMs: int('RESOURCE_SAMPLE_INTERVAL_MS', 15_000, 0, 3_600_000),
    retentionDays: int('RETENTION_DAYS', 30, 1, 3650),
    partitionMonthsAhead: int('PARTITION_MONTHS_AHEAD', 3, 1, 24),
    schedulerEnabled: boolean(env, 'SCHEDULER_ENABLED', true),
    embeddedDataDir: raw(env, 'AGOG_PG_DATA_DIR'),
    embeddedPort: int('AGOG_PG_PORT', 54329, 1024, 65535),
    latencyTargetMs: number(env, 'LATENCY_TARGET_MS', 100, { min: 1, max: 600_000, integer: false }),
    nPlusOneMinQueries: int('N_PLUS_ONE_MIN_QUERIES', 5, 2, 10_000),
    nPlusOneMinTotalMs: number(env, 'N_PLUS_ONE_MIN_TOTAL_MS', 50, { min: 0, max: 600_000, integer: false }),
    // The optimization engine (src/optimizer/engine.ts); interval 0 turns it off.
    optimizerIntervalMs: int('OPTIMIZER_INTERVAL_MS', 5 * 60_000, 0, 24 * 3_600_000),
    // At most a day: the detectors read 5-minute rows per endpoint and fingerprint, which
    // are kept from the start of the previous UTC day on (fine_rollup_start, migrations/V0.0.41__baseline.sql).
    optimizerWindowMinutes: int('OPTIMIZER_WINDOW_MINUTES', 60, 5, 24 * 60),
    optimizerMaxRawRows: int('OPTIMIZER_MAX_RAW_ROWS', 200_000, 1_000, 10_000_000),
    monitoredSchema,
    missingIndexMinRows: int('MISSING_INDEX_MIN_ROWS', 10_000, 1, 1_000_000_000),
    errorRateThresholdPercent: number(env, 'ERROR_RATE_THRESHOLD_PERCENT', 5, { min: 0.01, max: 100, integer: false }),
    shareDatabaseFindings: boolean(env, 'OPTIMIZER_SHARE_DATABASE_FINDINGS', false),
    serviceTenantId,
    demo: raw(env, 'AGOG_DEMO') === undefined ? undefined : boolean(env, 'AGOG_DEMO', false),
    monitoredDatabases: monitoredDatabases(env),
    collectIntervalMs: int('COLLECT_INTERVAL_MS', 60_000, 1000, 24 * 3_600_000),
  };
}
