/**
 * Dashboard variables backed by the service: endpoints, query fingerprints,
 * and tenants (admin tokens only). The service answers a `variable` query with
 * a frame of `text`/`value` fields, which Grafana turns into variable options.
 */
import { CustomVariableSupport, DataQueryRequest, DataQueryResponse } from '@grafana/data';
import { from, Observable } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { DataSource } from './datasource';
import { migrateQuery, needsMigration } from './migrate';
import { AgogQuery, DEFAULT_OPTIONS, VARIABLE_NAMES, VariableName } from './types';

/**
 * A variable query as saved: the current object, or a plain string naming the
 * values ("endpoints"), as a hand-written dashboard may hold it.
 */
export function toVariableQuery(saved: unknown, refId = 'variable'): AgogQuery {
  if (typeof saved === 'string') {
    const kind = (VARIABLE_NAMES as readonly string[]).includes(saved.trim())
      ? (saved.trim() as VariableName)
      : DEFAULT_OPTIONS.variable.variable!;
    return migrateQuery({ refId, queryType: 'variable', variable: kind });
  }
  const query = (saved ?? {}) as Partial<AgogQuery>;
  if (query.queryType === 'variable' && query.refId && !needsMigration(query)) {
    return query as AgogQuery;
  }
  return migrateQuery({ ...query, refId: query.refId ?? refId, queryType: 'variable' });
}

export class AgogVariableSupport extends CustomVariableSupport<DataSource, AgogQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  query(request: DataQueryRequest<AgogQuery>): Observable<DataQueryResponse> {
    const targets = request.targets.map((target) => toVariableQuery(target, target?.refId));
    return from(this.datasource.query({ ...request, targets }));
  }
}
