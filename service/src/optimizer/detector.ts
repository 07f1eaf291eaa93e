// The shape of a detector, and what every detector receives.
import type { Pool } from 'pg';
import type { Window } from '../db/optimizerWindow';
import type { Finding, RecommendationKind } from './recommendation';

export interface OptimizerSettings {
  /** How far back the detectors look (OPTIMIZER_WINDOW_MINUTES). */
  windowMinutes: number;
  /** Most raw query rows the N+1 detector reads per run (OPTIMIZER_MAX_RAW_ROWS). */
  maxRawRows: number;
  /** Schema of the monitored application's tables (MONITORED_SCHEMA). */
  monitoredSchema: string;
  latencyTargetMs: number;
  slowQueryThresholdMs: number;
  nPlusOneMinQueries: number;
  nPlusOneMinTotalMs: number;
  /** Server error share above which an endpoint gets advice, 0..1 (ERROR_RATE_THRESHOLD_PERCENT / 100). */
  errorRateThreshold: number;
  /** Smallest table (estimated rows) the missing-index detector advises on (MISSING_INDEX_MIN_ROWS). */
  missingIndexMinRows: number;
  retentionDays: number;
  /**
   * Database-wide findings (unused and duplicate indexes of the monitored schema, whose
   * definitions may hold literals, with table names and sizes) go to every active tenant
   * when true (OPTIMIZER_SHARE_DATABASE_FINDINGS); by default only to
   * DATABASE_FINDINGS_TENANT, which admin tokens read.
   */
  shareDatabaseFindings?: boolean;
}

/**
 * Where database-wide findings are recorded: the nil UUID, which is also the service's
 * own tenant by default (AGOG_SERVICE_TENANT_ID). An admin token's recommendations query
 * without a tenant reads it.
 */
export const DATABASE_FINDINGS_TENANT = '00000000-0000-0000-0000-000000000000';

export interface DetectorContext {
  pool: Pool;
  settings: OptimizerSettings;
  window: Window;
  now: Date;
  /** Tenants with data in the last day: database-wide findings are recorded for each of them. */
  activeTenants: string[];
  /**
   * The monitored database a tenant's collected statements ran on (MONITORED_DATABASE_URL),
   * where the missing-index detector plans them; undefined: they are planned on `pool`.
   */
  monitoredDatabase?: (tenantId: string) => Pool | undefined;
}

export interface Detector {
  name: string;
  /** The kinds it produces: findings of these kinds that it no longer reports get resolved. */
  kinds: RecommendationKind[];
  detect(ctx: DetectorContext): Promise<Finding[]>;
}

/** A database-wide finding, recorded once for each active tenant. */
export function forEveryTenant(ctx: DetectorContext, finding: Omit<Finding, 'tenantId'>): Finding[] {
  return ctx.activeTenants.map((tenantId) => ({ ...finding, tenantId }));
}

/**
 * A finding about the whole database that can show what another tenant's application
 * does: recorded for DATABASE_FINDINGS_TENANT only, unless shareDatabaseFindings.
 */
export function forDatabaseOperators(ctx: DetectorContext, finding: Omit<Finding, 'tenantId'>): Finding[] {
  return ctx.settings.shareDatabaseFindings ? forEveryTenant(ctx, finding) : [{ ...finding, tenantId: DATABASE_FINDINGS_TENANT }];
}

/** The window as evidence shows it. */
export function windowEvidence(window: Window): { from: string; to: string } {
  return { from: window.from.toISOString(), to: window.to.toISOString() };
}
