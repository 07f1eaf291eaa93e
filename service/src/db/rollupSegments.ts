// The rollup rows of a range cut into segments (src/query/timeRange.ts rangeSegments:
// 5m, 1h, 1d, 1h, 5m), in a fixed shape of five pieces.
//
// segmentUnion, what the query API reads with: one SELECT per piece, joined by UNION ALL,
// so each piece is its own index range scan, and an index-only one where a covering
// index holds the columns read (V0.0.44, V0.0.47). The same five ranges OR'ed in one
// WHERE (segmentCondition) can only be a bitmap scan, which visits the table's pages of
// every row: rows of one tenant and resolution lie scattered over the whole table, so
// that costs a page per row and grows with the table.
import type { Segment } from '../query/timeRange';

const RESOLUTIONS = ['5m', '1h', '1d', '1h', '5m'];

function pieceCondition(alias: string, first: number, i: number): string {
  return `${alias}.resolution = '${RESOLUTIONS[i]}' AND ${alias}.bucket >= $${first + 2 * i}::timestamptz AND ${alias}.bucket < $${first + 2 * i + 1}::timestamptz`;
}

/**
 * SQL text of the rows of the range: `select` (a SELECT over a rollup table aliased
 * `alias`, with the placeholder {segment} in its WHERE) once per piece, joined by UNION
 * ALL and parenthesised, to use as a FROM item. Reads ten timestamptz parameters from
 * $first to $(first + 9): pass segmentValues(segments).
 */
export function segmentUnion(alias: string, first: number, select: string): string {
  return '(' + RESOLUTIONS.map((_, i) => select.replaceAll('{segment}', pieceCondition(alias, first, i))).join('\n UNION ALL ') + ')';
}

/**
 * SQL text of the same rows as one WHERE condition for `alias` (five OR'ed ranges; a
 * bitmap scan, see above), reading the same ten parameters as segmentUnion.
 */
export function segmentCondition(alias: string, first: number): string {
  return '(' + RESOLUTIONS.map((_, i) => `(${pieceCondition(alias, first, i)})`).join(' OR ') + ')';
}

export function segmentValues(segments: Segment[]): Date[] {
  const expected = ['5m', '1h', '1d', '1h', '5m'];
  if (segments.length !== 5 || segments.some((s, i) => s.resolution !== expected[i])) {
    throw new Error('segmentValues expects the five segments of rangeSegments()');
  }
  return segments.flatMap((s) => [s.from, s.to]);
}
