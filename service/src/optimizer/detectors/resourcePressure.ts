// Resource pressure per source, at the seed's thresholds: connection pool above 90 % of
// its maximum (peak), CPU above 80 % and memory above 90 % of the total (highest 5-minute
// average, so one spiky sample raises nothing).
import { resourceWindowStats } from '../../db/optimizerWindow';
import type { Detector } from '../detector';
import { windowEvidence } from '../detector';
import type { Finding } from '../recommendation';
import { round } from '../recommendation';

export const POOL_SATURATION_PERCENT = 90;
export const CPU_PRESSURE_PERCENT = 80;
export const MEMORY_PRESSURE_PERCENT = 90;

export const resourcePressureDetector: Detector = {
  name: 'resource pressure',
  kinds: ['poolSaturation', 'cpuPressure', 'memoryPressure'],
  async detect(ctx) {
    const findings: Finding[] = [];
    for (const r of await resourceWindowStats(ctx.pool, ctx.window)) {
      const base = { tenantId: r.tenantId, subject: r.source };
      const window = windowEvidence(ctx.window);
      if (r.peakPoolPercent !== null && r.peakPoolPercent > POOL_SATURATION_PERCENT) {
        findings.push({
          ...base,
          kind: 'poolSaturation',
          severity: r.peakPoolPercent >= 100 ? 'critical' : 'warning',
          title: `Connection pool of ${r.source} at ${round(r.peakPoolPercent, 0)} % of its maximum (${r.maxConnections} of ${r.poolMax})`,
          evidence: { source: r.source, peakConnections: r.maxConnections, poolMax: r.poolMax, peakPercent: round(r.peakPoolPercent, 1), at: r.peakPoolAt?.toISOString() ?? null, thresholdPercent: POOL_SATURATION_PERCENT, window },
          action: `Find what holds connections in ${r.source} (long transactions, slow queries, connections not released); raise DATABASE_POOL_MAX only if PostgreSQL's max_connections leaves room for it.`,
        });
      }
      if (r.peakCpu !== null && r.peakCpu > CPU_PRESSURE_PERCENT) {
        findings.push({
          ...base,
          kind: 'cpuPressure',
          severity: r.peakCpu >= 95 ? 'critical' : 'warning',
          title: `CPU pressure on ${r.source}: ${round(r.peakCpu, 0)} % over 5 minutes (threshold ${CPU_PRESSURE_PERCENT} %)`,
          evidence: { source: r.source, peakFiveMinuteCpuPercent: round(r.peakCpu, 1), at: r.peakCpuAt?.toISOString() ?? null, windowAverageCpuPercent: round(r.avgCpu, 1), samples: r.samples, thresholdPercent: CPU_PRESSURE_PERCENT, window },
          action: `Profile ${r.source} at ${r.peakCpuAt?.toISOString() ?? 'its peak'}: the busiest endpoints and slowest queries of that time are the first suspects; add capacity if the load is legitimate.`,
        });
      }
      if (r.peakMemoryPercent !== null && r.peakMemoryPercent > MEMORY_PRESSURE_PERCENT) {
        findings.push({
          ...base,
          kind: 'memoryPressure',
          severity: r.peakMemoryPercent >= 97 ? 'critical' : 'warning',
          title: `Memory pressure on ${r.source}: ${round(r.peakMemoryPercent, 0)} % of ${round(r.memoryTotalMb, 0)} MB over 5 minutes (threshold ${MEMORY_PRESSURE_PERCENT} %)`,
          evidence: { source: r.source, peakFiveMinuteMemoryPercent: round(r.peakMemoryPercent, 1), at: r.peakMemoryAt?.toISOString() ?? null, memoryTotalMb: r.memoryTotalMb, thresholdPercent: MEMORY_PRESSURE_PERCENT, window },
          action: `Check ${r.source} for memory growth (a heap snapshot for Node.js, large result sets loaded at once, unbounded caches or buffers); give it more memory if the working set is legitimate.`,
        });
      }
    }
    return findings;
  },
};
