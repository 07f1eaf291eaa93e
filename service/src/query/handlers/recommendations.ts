// recommendations: what the optimization engine found for the tenant and saw in the
// range, open ones first, then by severity and last seen. Each row carries its
// evidence (JSON), the action, and the fingerprint, endpoint or table concerned.
import { listRecommendations } from '../../db/recommendations';
import { hashToHex, hexToDecimal } from '../../ingest/fingerprint';
import { DATABASE_FINDINGS_TENANT } from '../../optimizer/detector';
import type { StoredRecommendation } from '../../optimizer/recommendation';
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { frame, stringColumn, timeColumn } from '../frames';

/** Most rows one recommendations query returns. */
export const RECOMMENDATIONS_SHOWN = 500;

export const recommendations: QueryHandler<'recommendations'> = async (query, ctx) => {
  // An admin token naming no tenant reads the database-wide findings.
  const tenantId = ctx.admin && !ctx.tenantId ? DATABASE_FINDINGS_TENANT : tenantOf(ctx, 'recommendations');
  const rows = await listRecommendations(ctx.db, tenantId, {
    from: ctx.range.from,
    to: ctx.range.to,
    kind: query.kind,
    severity: query.severity,
    queryHash: query.queryHash ? hexToDecimal(query.queryHash) : undefined,
    endpoint: query.endpoint,
    limit: RECOMMENDATIONS_SHOWN,
  });
  return { frames: [recommendationFrame(query.refId, rows)] };
};

export function recommendationFrame(refId: string, rows: StoredRecommendation[]) {
  const of = <T>(f: (r: StoredRecommendation) => T) => rows.map(f);
  return frame({ name: 'recommendations', refId, preferredVisualisationType: 'table' }, [
    stringColumn('severity', of((r) => r.severity), { displayName: 'Severity' }),
    stringColumn('kind', of((r) => r.kind), { displayName: 'Kind' }),
    stringColumn('title', of((r) => r.title), { displayName: 'Title' }),
    stringColumn('evidence', of((r) => JSON.stringify(r.evidence)), { displayName: 'Evidence' }),
    stringColumn('action', of((r) => r.action), { displayName: 'Action' }),
    stringColumn('queryHash', of((r) => (r.queryHash ? hashToHex(r.queryHash) : null)), { displayName: 'Fingerprint' }),
    stringColumn('endpoint', of((r) => r.endpoint ?? null), { displayName: 'Endpoint' }),
    stringColumn('table', of((r) => r.tableName ?? null), { displayName: 'Table' }),
    stringColumn('status', of((r) => (r.resolvedAt ? 'resolved' : 'open')), { displayName: 'Status' }),
    timeColumn('firstSeen', of((r) => r.firstSeen), { displayName: 'First seen' }),
    timeColumn('lastSeen', of((r) => r.lastSeen), { displayName: 'Last seen' }),
    stringColumn('id', of((r) => r.id), { displayName: 'Id' }),
  ]);
}
