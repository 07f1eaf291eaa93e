// Partitions of the raw logs: the count above the seed's alert threshold (35), monthly
// partitions past the retention still attached (the upkeep is not dropping them), or the
// count grown since the snapshot of about a month ago. Database-wide: recorded for every
// active tenant.
import { listPartitions } from '../../db/partitions';
import { currentStorage, storageSnapshots } from '../../db/storageSnapshots';
import { PARTITION_ALERT_THRESHOLD } from '../../query/handlers/storage';
import { DAY_MS } from '../../rollups/time';
import type { Detector } from '../detector';
import { forEveryTenant } from '../detector';
import type { Finding } from '../recommendation';

/** Compare the count with the snapshot at least this old (and at most twice as old). */
const GROWTH_LOOKBACK_DAYS = 28;
/** Grace after the retention before an old partition counts as not dropped. */
const RETENTION_GRACE_MS = DAY_MS;

export const partitionsDetector: Detector = {
  name: 'partitions',
  kinds: ['partitions'],
  async detect(ctx) {
    const now = ctx.now.getTime();
    const partitions = await listPartitions(ctx.pool);
    const tables = await currentStorage(ctx.pool);
    const old = await storageSnapshots(ctx.pool, { from: new Date(now - 2 * GROWTH_LOOKBACK_DAYS * DAY_MS), to: new Date(now - GROWTH_LOOKBACK_DAYS * DAY_MS) });
    const cutoff = now - ctx.settings.retentionDays * DAY_MS - RETENTION_GRACE_MS;
    const findings: Finding[] = [];
    for (const table of tables) {
      const expired = partitions.filter((p) => p.parent === table.table && !p.isDefault && p.rangeTo !== null && p.rangeTo.getTime() <= cutoff);
      const then = old.find((s) => s.table === table.table);
      const grew = then !== undefined && table.partitions > then.partitions;
      const over = table.partitions > PARTITION_ALERT_THRESHOLD;
      if (!over && expired.length === 0 && !grew) continue;
      const problems = [
        over ? `${table.partitions} partitions (alert above ${PARTITION_ALERT_THRESHOLD})` : null,
        expired.length ? `${expired.length} monthly partitions older than the ${ctx.settings.retentionDays}-day retention are still attached` : null,
        grew ? `the count grew from ${then!.partitions} to ${table.partitions} since ${then!.takenAt.toISOString().slice(0, 10)}` : null,
      ].filter(Boolean);
      findings.push(...forEveryTenant(ctx, {
        kind: 'partitions',
        subject: table.table,
        severity: 'warning',
        title: `Partitions of ${table.table}: ${problems.join('; ')}`,
        evidence: {
          table: table.table,
          partitions: table.partitions,
          threshold: PARTITION_ALERT_THRESHOLD,
          retentionDays: ctx.settings.retentionDays,
          expiredPartitions: expired.map((p) => p.partition),
          partitionsThen: then?.partitions ?? null,
          snapshotThen: then?.takenAt.toISOString() ?? null,
          totalBytes: table.totalBytes,
        },
        action: 'Run `npx agog-perf maintain` (it drops monthly partitions past RETENTION_DAYS) and check the maintain job in GET /health; if it runs and partitions stay, check RETENTION_DAYS.',
        tableName: table.table,
      }));
    }
    return findings;
  },
};
