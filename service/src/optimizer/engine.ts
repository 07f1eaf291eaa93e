// The optimization engine (the seed's OptimizationEngine): runs every detector over the
// recent window, records what they find in optimization_recommendations, resolves what
// they no longer find, and takes the daily storage snapshot. Runs as the scheduled job
// "optimize" (src/service.ts), on one replica at a time.
//
// A detector that fails is reported and skipped; its open findings stay as they were
// (neither refreshed nor resolved), and the other detectors' results are still recorded.
import type { Pool } from 'pg';
import { tenantsWithData } from '../db/healthCache';
import { resolveUnseenRecommendations, upsertRecommendations } from '../db/recommendations';
import { currentStorage, recordStorageSnapshot } from '../db/storageSnapshots';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../rollups/time';
import type { Detector, DetectorContext, OptimizerSettings } from './detector';
import { duplicateIndexesDetector } from './detectors/duplicateIndexes';
import { highErrorRateDetector } from './detectors/highErrorRate';
import { missingIndexDetector } from './detectors/missingIndex';
import { nPlusOneDetector } from './detectors/nPlusOne';
import { partitionsDetector } from './detectors/partitions';
import { resourcePressureDetector } from './detectors/resourcePressure';
import { slowEndpointDetector } from './detectors/slowEndpoint';
import { staleCacheDetector } from './detectors/staleCache';
import { unusedIndexesDetector } from './detectors/unusedIndexes';
import type { Finding, RecommendationKind } from './recommendation';
import { recommendationId } from './recommendation';

export const DETECTORS: Detector[] = [
  missingIndexDetector,
  nPlusOneDetector,
  slowEndpointDetector,
  highErrorRateDetector,
  resourcePressureDetector,
  staleCacheDetector,
  partitionsDetector,
  unusedIndexesDetector,
  duplicateIndexesDetector,
];

export interface OptimizerRun {
  startedAt: Date;
  durationMs: number;
  findings: number;
  byKind: Partial<Record<RecommendationKind, number>>;
  resolved: number;
  failures: Array<{ detector: string; error: string }>;
}

export async function runOptimizer(
  pool: Pool,
  settings: OptimizerSettings,
  { now = new Date(), detectors = DETECTORS, monitoredDatabase }: {
    now?: Date; detectors?: Detector[]; monitoredDatabase?: DetectorContext['monitoredDatabase'];
  } = {},
): Promise<OptimizerRun> {
  const started = process.hrtime.bigint();
  const window = { from: new Date(now.getTime() - settings.windowMinutes * MINUTE_MS), to: now };
  const activeTenants = await tenantsWithData(pool, { from: new Date(now.getTime() - DAY_MS), to: new Date(now.getTime() + HOUR_MS) });
  const ctx: DetectorContext = { pool, settings, window, now, activeTenants, monitoredDatabase };

  const found = new Map<string, Finding>();
  const ran: RecommendationKind[] = [];
  const failures: OptimizerRun['failures'] = [];
  for (const detector of detectors) {
    try {
      for (const finding of await detector.detect(ctx)) {
        // Several fingerprints may point at one index: the first (the costliest) speaks for them.
        const key = `${finding.tenantId}/${recommendationId(finding.kind, finding.subject)}`;
        if (!found.has(key)) found.set(key, finding);
      }
      ran.push(...detector.kinds);
    } catch (err) {
      failures.push({ detector: detector.name, error: (err as Error).message });
    }
  }
  const findings = [...found.values()];
  await upsertRecommendations(pool, findings, now);
  const resolved = await resolveUnseenRecommendations(pool, ran, now);
  await recordStorageSnapshot(pool, await currentStorage(pool), now);

  const byKind: OptimizerRun['byKind'] = {};
  for (const f of findings) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  return { startedAt: now, durationMs: Number(process.hrtime.bigint() - started) / 1e6, findings: findings.length, byKind, resolved, failures };
}

/** The scheduled job: a run in which a detector failed counts as failed (shown in /health, retried). */
export async function optimizeJob(
  pool: Pool, settings: OptimizerSettings, monitoredDatabase?: DetectorContext['monitoredDatabase'],
): Promise<OptimizerRun> {
  const run = await runOptimizer(pool, settings, { monitoredDatabase });
  if (run.failures.length) throw new Error(`optimizer: ${run.failures.map((f) => `${f.detector}: ${f.error}`).join('; ')}`);
  return run;
}
