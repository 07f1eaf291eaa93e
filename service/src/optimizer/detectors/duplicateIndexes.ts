// Duplicate indexes on the monitored application's tables: two indexes with the same key,
// or one whose key is the leading part of another's (same method, operator classes,
// collations, expressions and predicate). The redundant one enforces nothing.
// Database-wide: recorded for the operators (forDatabaseOperators).
import { duplicateIndexes } from '../../db/monitoredSchema';
import type { Detector } from '../detector';
import { forDatabaseOperators } from '../detector';
import { quoteIdent } from '../sqlText';


export const duplicateIndexesDetector: Detector = {
  name: 'duplicate indexes',
  kinds: ['duplicateIndex'],
  async detect(ctx) {
    const schema = ctx.settings.monitoredSchema;
    return (await duplicateIndexes(ctx.pool, schema)).flatMap((d) => forDatabaseOperators(ctx, {
      kind: 'duplicateIndex',
      subject: `${schema}.${d.index}`,
      severity: d.relation === 'exact' ? 'warning' : 'info',
      title: d.relation === 'exact'
        ? `Duplicate index ${d.index} on ${d.table}: same key as ${d.coveredBy}`
        : `Redundant index ${d.index} on ${d.table}: its key leads ${d.coveredBy}`,
      evidence: {
        index: `${schema}.${d.index}`,
        definition: d.definition,
        bytes: d.bytes,
        coveredBy: `${schema}.${d.coveredBy}`,
        coveredByDefinition: d.coveredByDefinition,
        relation: d.relation,
      },
      action: `DROP INDEX CONCURRENTLY ${quoteIdent(schema)}.${quoteIdent(d.index)}; -- ${d.coveredBy} serves the same lookups`,
      tableName: `${schema}.${d.table}`,
    }));
  },
};
