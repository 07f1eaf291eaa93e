// Unused indexes on the monitored application's tables: never scanned since the
// statistics were last reset, on a table that is read, enforcing nothing. Each one costs
// disk and slows every write. Database-wide: recorded for the operators (forDatabaseOperators).
import { unusedIndexes } from '../../db/monitoredSchema';
import type { Detector } from '../detector';
import { forDatabaseOperators } from '../detector';
import { quoteIdent } from '../sqlText';

/** Smaller indexes are not worth the advice. */
export const UNUSED_INDEX_MIN_BYTES = 64 * 1024;


export const unusedIndexesDetector: Detector = {
  name: 'unused indexes',
  kinds: ['unusedIndex'],
  async detect(ctx) {
    const schema = ctx.settings.monitoredSchema;
    return (await unusedIndexes(ctx.pool, schema, UNUSED_INDEX_MIN_BYTES)).flatMap((u) => forDatabaseOperators(ctx, {
      kind: 'unusedIndex',
      subject: `${schema}.${u.index}`,
      severity: 'info',
      title: `Unused index ${u.index} on ${u.table} (${Math.round(u.bytes / 1024)} kB): never scanned`,
      evidence: {
        index: `${schema}.${u.index}`,
        table: `${schema}.${u.table}`,
        definition: u.definition,
        bytes: u.bytes,
        indexScans: 0,
        tableReads: u.tableReads,
        statisticsSince: u.statsSince?.toISOString() ?? 'the server start or the last statistics reset',
      },
      action: `DROP INDEX CONCURRENTLY ${quoteIdent(schema)}.${quoteIdent(u.index)}; -- first check that no replica, monthly job or rare report uses it (statistics are per server)`,
      tableName: `${schema}.${u.table}`,
    }));
  },
};
