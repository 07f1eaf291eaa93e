// Metrics → system_resource_metrics: one row per resource (one process, named by
// service.name and service.instance.id) and export request, from the process's CPU and
// memory and its database pool's connections. The row goes through the same validation
// and COPY encoding as a JSON resource record (src/ingest/records.ts). Only the metrics
// in RESOURCE_METRICS and the attributes in METRIC_ATTRIBUTES are read; everything else
// is dropped.
import { ApiError } from '../http/errors';
import { encodeRecord, type FieldError } from '../ingest/records';
import type { OtlpPoint, OtlpResourceMetrics } from './decode';

const CPU_UTILIZATION = ['process.cpu.utilization', 'jvm.cpu.recent_utilization', 'process.runtime.jvm.cpu.utilization'];
const SYSTEM_CPU_UTILIZATION = 'system.cpu.utilization';
const MEMORY_USED = ['process.memory.usage', 'jvm.memory.used', 'process.runtime.jvm.memory.usage'];
const SYSTEM_MEMORY_USAGE = 'system.memory.usage';
const MEMORY_LIMIT = ['system.memory.limit', 'jvm.memory.limit', 'process.runtime.jvm.memory.limit'];
const CONNECTIONS = ['db.client.connection.count', 'db.client.connections.usage'];
const POOL_MAX = ['db.client.connection.max', 'db.client.connections.max'];

export const RESOURCE_METRICS: ReadonlySet<string> = new Set([
  ...CPU_UTILIZATION, SYSTEM_CPU_UTILIZATION, ...MEMORY_USED, SYSTEM_MEMORY_USAGE, ...MEMORY_LIMIT, ...CONNECTIONS, ...POOL_MAX,
]);
/** Resource attributes name the source; data point attributes say which state a point counts. */
export const METRIC_ATTRIBUTES: ReadonlySet<string> = new Set([
  'service.name', 'service.instance.id', 'state', 'system.memory.state', 'cpu.mode', 'system.cpu.state', 'db.client.connection.state', 'db.client.connections.state',
]);

const MB = 1024 * 1024;

export interface MappedMetrics {
  lines: string;
  kept: number;
  /** Data points of resources that carried some resource metrics but not CPU and memory both. */
  rejected: number;
  rejectedReason?: string;
}

function state(point: OtlpPoint): string | undefined {
  const value = point.attributes.get('state') ?? point.attributes.get('system.memory.state') ?? point.attributes.get('cpu.mode')
    ?? point.attributes.get('system.cpu.state') ?? point.attributes.get('db.client.connection.state') ?? point.attributes.get('db.client.connections.state');
  return value === undefined ? undefined : String(value);
}

/** The points of the newest collection of the first of `names` that the resource reports. */
function latest(resource: OtlpResourceMetrics, names: string[]): { name: string; points: OtlpPoint[] } | undefined {
  for (const name of names) {
    const points = resource.metrics.get(name);
    if (!points || points.length === 0) continue;
    let newest = 0;
    for (const p of points) newest = Math.max(newest, p.timeMs);
    return { name, points: points.filter((p) => p.timeMs === newest) };
  }
  return undefined;
}

function sum(points: OtlpPoint[], keep: (p: OtlpPoint) => boolean = () => true): number {
  let total = 0;
  for (const p of points) if (keep(p)) total += p.value;
  return total;
}

export function mapResourceMetrics(
  resources: OtlpResourceMetrics[],
  ctx: { tenantId: string; limits: { minTimeMs: number; maxTimeMs: number }; slowQueryThresholdMs: number },
): MappedMetrics {
  const lines: string[] = [];
  const errors: Array<{ field: string; reason: string }> = [];
  let rejected = 0;
  let rejectedResources = 0;
  for (let r = 0; r < resources.length; r++) {
    const resource = resources[r]!;
    if (resource.metrics.size === 0) continue;
    const record: Record<string, unknown> = {};
    const sources: Record<string, string> = {};
    let timeMs = 0;
    const take = (field: string, found: { name: string; points: OtlpPoint[] } | undefined, value: (points: OtlpPoint[]) => number) => {
      if (!found) return;
      record[field] = value(found.points);
      sources[field] = `metric "${found.name}"`;
      for (const p of found.points) timeMs = Math.max(timeMs, p.timeMs);
    };
    const cpu = latest(resource, CPU_UTILIZATION);
    if (cpu) take('cpuUsagePercent', cpu, (points) => Math.min(100, sum(points) * 100));
    else {
      // system.cpu.utilization: a share per CPU and state; busy = 1 - the average idle share.
      const system = latest(resource, [SYSTEM_CPU_UTILIZATION]);
      take('cpuUsagePercent', system, (points) => {
        const idle = points.filter((p) => state(p) === 'idle');
        return idle.length ? Math.max(0, Math.min(100, (1 - sum(idle) / idle.length) * 100)) : sum(points) * 100;
      });
    }
    const used = latest(resource, MEMORY_USED);
    if (used) take('memoryUsedMb', used, (points) => sum(points) / MB);
    else take('memoryUsedMb', latest(resource, [SYSTEM_MEMORY_USAGE]), (points) => sum(points, (p) => state(p) === 'used') / MB);
    const limit = latest(resource, MEMORY_LIMIT);
    if (limit) take('memoryTotalMb', limit, (points) => sum(points) / MB);
    else if (!used) take('memoryTotalMb', latest(resource, [SYSTEM_MEMORY_USAGE]), (points) => sum(points) / MB);
    take('activeConnections', latest(resource, CONNECTIONS), (points) => Math.round(sum(points, (p) => state(p) !== 'idle')));
    take('poolMax', latest(resource, POOL_MAX), (points) => Math.round(sum(points)));
    if (record.cpuUsagePercent === undefined || record.memoryUsedMb === undefined) {
      rejectedResources++;
      for (const points of resource.metrics.values()) rejected += points.length;
      continue;
    }
    // A process with no database pool reports no connection metric: it holds none.
    if (record.activeConnections === undefined) record.activeConnections = 0;
    if (record.memoryTotalMb === 0) delete record.memoryTotalMb;
    record.timestamp = timeMs;
    const name = resource.attributes.get('service.name');
    const instance = resource.attributes.get('service.instance.id');
    const source = [name, instance].filter((v) => v !== undefined && v !== '').map(String).join('/');
    if (source) record.source = source.slice(0, 128);
    const fieldErrors: FieldError[] = [];
    const encoded = encodeRecord('resource', record, r, ctx, fieldErrors);
    for (const error of fieldErrors) {
      errors.push({ field: `${resource.path} ${sources[error.field] ?? error.field}`, reason: error.reason });
    }
    if (encoded) lines.push(encoded.line);
  }
  if (errors.length) {
    throw new ApiError(400, 'invalid_metrics',
      `${errors.length} problem${errors.length === 1 ? '' : 's'} in the metrics; nothing was stored (first: ${errors[0]!.field} ${errors[0]!.reason})`,
      { errors: errors.slice(0, 100), errorCount: errors.length });
  }
  return {
    lines: lines.join(''),
    kept: lines.length,
    rejected,
    rejectedReason: rejectedResources
      ? `${rejectedResources} resource${rejectedResources === 1 ? '' : 's'} reported resource metrics without both CPU (e.g. process.cpu.utilization) and memory (e.g. process.memory.usage); no row was written for ${rejectedResources === 1 ? 'it' : 'them'}`
      : undefined,
  };
}
