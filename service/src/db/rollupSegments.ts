// The WHERE condition that selects the rollup buckets of a range cut into segments
// (src/query/timeRange.ts rangeSegments: 5m, 1h, 1d, 1h, 5m). A fixed shape of five
// OR'ed index ranges, so the planner uses the rollups' primary keys
// (tenant_id, resolution, bucket, ...) for each piece.
import type { Segment } from '../query/timeRange';

/**
 * SQL text of the condition for `alias`, reading ten timestamptz parameters from
 * $first to $(first + 9). Pass segmentValues(segments) as those parameters.
 */
export function segmentCondition(alias: string, first: number): string {
  const resolutions = ['5m', '1h', '1d', '1h', '5m'];
  return '(' + resolutions
    .map((resolution, i) =>
      `(${alias}.resolution = '${resolution}' AND ${alias}.bucket >= $${first + 2 * i}::timestamptz AND ${alias}.bucket < $${first + 2 * i + 1}::timestamptz)`)
    .join(' OR ') + ')';
}

export function segmentValues(segments: Segment[]): Date[] {
  const expected = ['5m', '1h', '1d', '1h', '5m'];
  if (segments.length !== 5 || segments.some((s, i) => s.resolution !== expected[i])) {
    throw new Error('segmentValues expects the five segments of rangeSegments()');
  }
  return segments.flatMap((s) => [s.from, s.to]);
}
