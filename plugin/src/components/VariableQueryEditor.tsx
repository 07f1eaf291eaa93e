import React, { useEffect, useMemo, useState } from 'react';
import { QueryEditorProps } from '@grafana/data';
import { Stack } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { AgogDataSourceOptions, AgogQuery } from '../types';
import { toVariableQuery } from '../variables';
import { TenantOption } from './fields';
import { VariableNameOption } from './pickers';

type Props = QueryEditorProps<DataSource, AgogQuery, AgogDataSourceOptions, AgogQuery>;

export function VariableQueryEditor({ query: saved, onChange }: Props) {
  const query = useMemo(() => toVariableQuery(saved), [saved]);
  useEffect(() => {
    if (query !== saved) {
      onChange(query);
    }
  }, [query, saved, onChange]);
  // Emitted on blur only: every change of a variable or annotation query runs it.
  const [tenantId, setTenantId] = useState(query.tenantId);

  return (
    <Stack direction="column" gap={0}>
      <VariableNameOption query={query} onChange={onChange} />
      <TenantOption
        id="agog-variable-tenant"
        value={tenantId}
        onChange={setTenantId}
        onCommit={() => onChange({ ...query, tenantId })}
      />
    </Stack>
  );
}
