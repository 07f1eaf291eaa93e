// Slow endpoint: p95 over the window above the latency target (LATENCY_TARGET_MS, the
// Apdex T); critical above four times the target, where Apdex counts a request as
// frustrated. Endpoints with fewer than MIN_REQUESTS requests in the window are left out.
import { endpointWindowStats } from '../../db/optimizerWindow';
import { histogramFromPacked } from '../../rollups/histogram';
import type { Detector } from '../detector';
import { windowEvidence } from '../detector';
import { round } from '../recommendation';

export const MIN_REQUESTS = 20;

export const slowEndpointDetector: Detector = {
  name: 'slow endpoint',
  kinds: ['slowEndpoint'],
  async detect(ctx) {
    const target = ctx.settings.latencyTargetMs;
    const findings = [];
    for (const e of await endpointWindowStats(ctx.pool, ctx.window)) {
      if (e.requests < MIN_REQUESTS) continue;
      const [p50, p95, p99] = histogramFromPacked(e.hist).percentiles([50, 95, 99]);
      if (p95 === null || p95 === undefined || p95 <= target) continue;
      const dbShare = e.sumMs > 0 ? Math.min(1, e.dbMs / e.sumMs) : 0;
      const where = dbShare >= 0.5
        ? `Most of its time (${round(100 * dbShare, 0)} %) is spent in the database: start with its slowest queries (slow queries filtered by this endpoint) and any N+1 advice for it.`
        : `Most of its time is spent outside the database (${round(100 * dbShare, 0)} % in queries): profile the handler (CPU, calls to other services, serialization).`;
      findings.push({
        tenantId: e.tenantId,
        kind: 'slowEndpoint' as const,
        subject: e.endpoint,
        severity: p95 > 4 * target ? 'critical' as const : 'warning' as const,
        title: `Slow endpoint ${e.endpoint}: p95 ${round(p95, 0)} ms against a target of ${target} ms`,
        evidence: {
          endpoint: e.endpoint,
          requests: e.requests,
          avgMs: round(e.sumMs / e.requests, 1),
          p50Ms: round(p50, 1),
          p95Ms: round(p95, 1),
          p99Ms: round(p99, 1),
          targetMs: target,
          dbShare: round(dbShare, 3),
          window: windowEvidence(ctx.window),
        },
        action: `Bring the p95 of ${e.endpoint} under ${target} ms. ${where}`,
        endpoint: e.endpoint,
      });
    }
    return findings;
  },
};
