// Growth per day of each raw log, from the daily storage snapshots: the change since the
// oldest snapshot of the last GROWTH_WINDOW_DAYS days, per day. Net of dropped
// partitions, so with retention working it settles near zero. Used by the storage query
// and by the partitions detector.
import type { StorageSnapshot, TableStorage } from '../db/storageSnapshots';
import { DAY_MS } from '../rollups/time';

export const GROWTH_WINDOW_DAYS = 7;

export interface Growth {
  bytesPerDay: number | null;
  rowsPerDay: number | null;
  partitionsThen: number | null;
  since: Date | null;
}

/** snapshots: those of the last GROWTH_WINDOW_DAYS days, oldest first. At least a day apart, else nulls. */
export function growthOf(current: TableStorage, snapshots: StorageSnapshot[], now: number): Growth {
  const oldest = snapshots.find((s) => s.table === current.table);
  if (!oldest || now - oldest.takenAt.getTime() < DAY_MS) {
    return { bytesPerDay: null, rowsPerDay: null, partitionsThen: null, since: null };
  }
  const days = (now - oldest.takenAt.getTime()) / DAY_MS;
  return {
    bytesPerDay: (current.totalBytes - oldest.totalBytes) / days,
    rowsPerDay: (current.rowEstimate - oldest.rowEstimate) / days,
    partitionsThen: oldest.partitions,
    since: oldest.takenAt,
  };
}
