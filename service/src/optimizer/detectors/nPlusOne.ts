// N+1: one request runs the same fingerprint many times. Sentry's rule is the default:
// at least 5 similar queries in one request, together over 50 ms
// (N_PLUS_ONE_MIN_QUERIES, N_PLUS_ONE_MIN_TOTAL_MS). Reads the raw query log of the
// window, at most OPTIMIZER_MAX_RAW_ROWS rows per tenant and run.
import { nPlusOneGroups } from '../../db/optimizerWindow';
import { hashToHex } from '../../ingest/fingerprint';
import type { Detector } from '../detector';
import { windowEvidence } from '../detector';
import { round } from '../recommendation';

export const nPlusOneDetector: Detector = {
  name: 'N+1 queries',
  kinds: ['nPlusOne'],
  async detect(ctx) {
    const { minQueries, minTotalMs } = { minQueries: ctx.settings.nPlusOneMinQueries, minTotalMs: ctx.settings.nPlusOneMinTotalMs };
    const { groups } = await nPlusOneGroups(ctx.pool, ctx.window, { minQueries, minTotalMs, maxRows: ctx.settings.maxRawRows });
    return groups.map((g) => {
      const endpoint = g.endpoint || '(no endpoint)';
      return {
        tenantId: g.tenantId,
        kind: 'nPlusOne' as const,
        subject: `${g.endpoint}\u0000${g.queryHash}`,
        // Four times the latency target is where Apdex calls a request frustrated.
        severity: g.avgRepeatedMsPerRequest >= 4 * ctx.settings.latencyTargetMs ? 'critical' as const : 'warning' as const,
        title: `N+1 queries on ${endpoint}: one query runs ${Math.round(g.avgQueriesPerRequest)} times per request (up to ${g.maxQueriesPerRequest})`,
        evidence: {
          endpoint: g.endpoint || null,
          queryHash: hashToHex(g.queryHash),
          query: g.preview,
          requestsAffected: g.requestsAffected,
          avgQueriesPerRequest: round(g.avgQueriesPerRequest, 1),
          maxQueriesPerRequest: g.maxQueriesPerRequest,
          avgRepeatedMsPerRequest: round(g.avgRepeatedMsPerRequest, 1),
          maxRepeatedMsPerRequest: round(g.maxRepeatedMsPerRequest, 1),
          rule: { minQueries, minTotalMs },
          window: windowEvidence(ctx.window),
          rawRowsRead: g.rowsRead,
          rawRowsCapped: g.rowsRead >= ctx.settings.maxRawRows,
        },
        action: `Load what ${endpoint} needs in one query instead of one per item: collect the keys and run one query with "= ANY($1)" (or a JOIN / the ORM's eager loading) in place of: ${g.preview.slice(0, 300)}`,
        queryHash: g.queryHash,
        endpoint: g.endpoint || null,
      };
    });
  },
};
