// storage: the raw logs' partitions, sizes and row estimates, against the seed's alert
// threshold of 35 partitions per table, with growth per day and the size over time
// (daily snapshots in the range, then the size now). The tables are shared by all
// tenants, so every reader sees the same answer; nothing in it is a tenant's data.
// Frames: tables (one row per raw log), partitions (one row per partition), growth
// (time series of bytes per table).
import { listPartitions } from '../../db/partitions';
import { currentStorage, storageSnapshots } from '../../db/storageSnapshots';
import type { QueryHandler } from '../context';
import { booleanColumn, frame, numberColumn, stringColumn, timeColumn } from '../frames';
import { GROWTH_WINDOW_DAYS, growthOf } from '../storageGrowth';
import { DAY_MS } from '../../rollups/time';

/** The seed's rule: more than 35 partitions of a log means old ones are not dropped. */
export const PARTITION_ALERT_THRESHOLD = 35;

const size = { unit: 'bytes', displayName: 'Size', decimals: 1 };

export const storage: QueryHandler<'storage'> = async (query, ctx) => {
  const partitions = await listPartitions(ctx.db);
  const tables = await currentStorage(ctx.db);
  const recent = await storageSnapshots(ctx.db, { from: new Date(ctx.now - GROWTH_WINDOW_DAYS * DAY_MS), to: new Date(ctx.now) });
  const history = await storageSnapshots(ctx.db, ctx.range);
  const growth = tables.map((t) => growthOf(t, recent, ctx.now));
  const monthly = (table: string) => partitions.filter((p) => p.parent === table && !p.isDefault);
  const oldest = (table: string) => monthly(table)[0]?.rangeFrom ?? null;
  const newest = (table: string) => monthly(table).at(-1)?.rangeTo ?? null;

  // The size series: one point per snapshot, then one for now when the range reaches it.
  const showNow = ctx.range.to.getTime() >= ctx.now - DAY_MS;
  const times = [...new Set(history.map((s) => s.takenAt.getTime()))];
  if (showNow) times.push(ctx.now);
  const sizeAt = (table: string) => times.map((t) => {
    if (showNow && t === ctx.now) return tables.find((x) => x.table === table)?.totalBytes ?? null;
    return history.find((s) => s.table === table && s.takenAt.getTime() === t)?.totalBytes ?? null;
  });

  return {
    frames: [
      frame({ name: 'tables', refId: query.refId, preferredVisualisationType: 'table' }, [
        stringColumn('table', tables.map((t) => t.table), { displayName: 'Table' }),
        numberColumn('partitions', tables.map((t) => t.partitions), {
          unit: 'none', displayName: 'Partitions', decimals: 0,
          thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: PARTITION_ALERT_THRESHOLD + 1, color: 'red' }] },
        }),
        numberColumn('partitionThreshold', tables.map(() => PARTITION_ALERT_THRESHOLD), { unit: 'none', displayName: 'Alert above', decimals: 0 }),
        booleanColumn('overThreshold', tables.map((t) => t.partitions > PARTITION_ALERT_THRESHOLD), { displayName: 'Over threshold' }),
        numberColumn('totalBytes', tables.map((t) => t.totalBytes), size),
        numberColumn('rowEstimate', tables.map((t) => t.rowEstimate), { unit: 'none', displayName: 'Rows (estimate)', decimals: 0 }),
        timeColumn('oldestPartitionFrom', tables.map((t) => oldest(t.table)), { displayName: 'Oldest partition from' }),
        timeColumn('newestPartitionTo', tables.map((t) => newest(t.table)), { displayName: 'Newest partition to' }),
        numberColumn('growthBytesPerDay', growth.map((g) => g.bytesPerDay), { unit: 'bytes', displayName: 'Growth per day', decimals: 1 }),
        numberColumn('growthRowsPerDay', growth.map((g) => g.rowsPerDay), { unit: 'none', displayName: 'Rows per day', decimals: 0 }),
      ]),
      frame({ name: 'partitions', refId: query.refId, preferredVisualisationType: 'table' }, [
        stringColumn('table', partitions.map((p) => p.parent), { displayName: 'Table' }),
        stringColumn('partition', partitions.map((p) => p.partition), { displayName: 'Partition' }),
        booleanColumn('isDefault', partitions.map((p) => p.isDefault), { displayName: 'Default partition' }),
        timeColumn('rangeFrom', partitions.map((p) => p.rangeFrom), { displayName: 'From' }),
        timeColumn('rangeTo', partitions.map((p) => p.rangeTo), { displayName: 'To' }),
        numberColumn('totalBytes', partitions.map((p) => p.totalBytes), size),
        numberColumn('rowEstimate', partitions.map((p) => p.rowEstimate), { unit: 'none', displayName: 'Rows (estimate)', decimals: 0 }),
      ]),
      frame({ name: 'growth', refId: query.refId }, [
        timeColumn('time', times),
        ...tables.map((t) => numberColumn('totalBytes', sizeAt(t.table), { unit: 'bytes', decimals: 1 }, { table: t.table })),
      ]),
    ],
  };
};
