// The terminal report (`agog-perf report`, and the summary `npm start` prints): the
// overview, the top slow queries and the recommendations, read through the query API
// exactly as Grafana reads them, then laid out as text or as plain JSON rows.
import type { DataFrameJSON, QueryResponse } from '../contract/query';

export interface ReportSource {
  url: string;
  token: string;
  tenantId?: string;
  hours: number;
  limit?: number;
}

export type Row = Record<string, unknown>;

export interface Report {
  range: { from: string; to: string };
  overview: Row[];
  /** Units of the overview's fields (Grafana unit ids), for the text layout. */
  overviewUnits: Record<string, string>;
  slowQueries: Row[];
  recommendations: Row[];
  errors: string[];
}

/** The frame's rows keyed by display name; time fields as ISO 8601 text. */
export function frameRows(frame: DataFrameJSON): Row[] {
  const fields = frame.schema.fields;
  const columns = frame.data.values;
  const length = Math.max(0, ...columns.map((c) => c.length));
  const rows: Row[] = [];
  for (let i = 0; i < length; i++) {
    const row: Row = {};
    fields.forEach((field, f) => {
      const value = columns[f]?.[i] ?? null;
      row[field.config.displayName ?? field.name] =
        field.type === 'time' && typeof value === 'number' ? new Date(value).toISOString() : value;
    });
    rows.push(row);
  }
  return rows;
}

/** Display name → unit, for the text layout. */
function frameUnits(frames: DataFrameJSON[]): Record<string, string> {
  const units: Record<string, string> = {};
  for (const frame of frames) {
    for (const field of frame.schema.fields) if (field.config.unit) units[field.config.displayName ?? field.name] = field.config.unit;
  }
  return units;
}

export async function fetchReport(source: ReportSource): Promise<Report> {
  const to = Date.now();
  const from = to - source.hours * 3_600_000;
  const response = await fetch(source.url.replace(/\/$/, '') + '/v1/query', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${source.token}` },
    body: JSON.stringify({
      range: { from, to },
      ...(source.tenantId ? { tenantId: source.tenantId } : {}),
      queries: [
        { refId: 'overview', queryType: 'overview' },
        { refId: 'slowQueries', queryType: 'slowQueries', orderBy: 'total', limit: source.limit ?? 5 },
        { refId: 'recommendations', queryType: 'recommendations' },
      ],
    }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`the query API answered ${response.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as QueryResponse;
  const rowsOf = (refId: string) => (body.results[refId]?.frames ?? []).flatMap(frameRows);
  const errors = Object.entries(body.results).flatMap(([refId, r]) => (r.error ? [`${refId}: ${r.error.message}`] : []));
  return {
    range: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    overview: rowsOf('overview'),
    overviewUnits: frameUnits(body.results.overview?.frames ?? []),
    slowQueries: rowsOf('slowQueries'),
    recommendations: rowsOf('recommendations').slice(0, source.limit ?? 5),
    errors,
  };
}

function format(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function withUnit(value: unknown, unit: string | undefined): string {
  if (typeof value !== 'number' || !unit) return format(value);
  switch (unit) {
    case 'ms': return `${format(value)} ms`;
    case 's': return `${format(value)} s`;
    case 'percent': return `${format(value)} %`;
    case 'percentunit': return `${(value * 100).toFixed(2)} %`;
    case 'reqps': return `${format(value)} requests/s`;
    default: return format(value);
  }
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : text.slice(0, width - 1) + '…';
}

function table(rows: Row[], preferred: string[], width = 60): string[] {
  if (rows.length === 0) return ['  (none)'];
  const keys = Object.keys(rows[0]!);
  const columns = [...new Set(preferred.map((p) => keys.find((k) => k.toLowerCase() === p.toLowerCase())).filter((k): k is string => Boolean(k)))];
  const shown = columns.length ? columns : keys.slice(0, 5);
  const cells = rows.map((row) => shown.map((key) => truncate(format(row[key]), width)));
  const widths = shown.map((key, i) => Math.max(key.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => '  ' + values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(shown), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
}

export function renderReport(report: Report): string {
  const lines = [`Performance report ${report.range.from} .. ${report.range.to}`, ''];
  lines.push('Overview');
  const overview = report.overview[0];
  if (overview) {
    for (const [key, value] of Object.entries(overview)) lines.push(`  ${key.padEnd(28)} ${withUnit(value, report.overviewUnits[key])}`);
  } else {
    lines.push('  (no data yet)');
  }
  lines.push('', 'Top slow queries (by total time)');
  lines.push(...table(report.slowQueries, ['Query', 'Preview', 'query_preview', 'Total time', 'total_ms', 'Calls', 'calls', 'p95', 'p95_ms']));
  lines.push('', 'Recommendations');
  lines.push(...table(report.recommendations, ['Severity', 'severity', 'Title', 'title', 'Action', 'action'], 70));
  if (report.errors.length) lines.push('', 'Errors', ...report.errors.map((e) => `  ${e}`));
  return lines.join('\n') + '\n';
}
