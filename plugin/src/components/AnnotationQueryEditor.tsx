import React, { useEffect, useMemo, useState } from 'react';
import { QueryEditorProps } from '@grafana/data';
import { Stack } from '@grafana/ui';

import { toAnnotationQuery } from '../migrate';
import { AgogQuery } from '../types';
import { TenantOption } from './fields';
import { AnnotationSourceOption } from './pickers';

type Props = QueryEditorProps<any, AgogQuery>;

/** Annotations come from recommendations or from health-threshold crossings. */
export function AnnotationQueryEditor({ query: saved, onChange }: Props) {
  const query = useMemo(() => toAnnotationQuery(saved), [saved]);
  useEffect(() => {
    if (query !== saved) {
      onChange(query);
    }
  }, [query, saved, onChange]);
  // Emitted on blur only: every change of a variable or annotation query runs it.
  const [tenantId, setTenantId] = useState(query.tenantId);

  return (
    <Stack direction="column" gap={0}>
      <AnnotationSourceOption query={query} onChange={onChange} />
      <TenantOption
        id="agog-annotation-tenant"
        value={tenantId}
        onChange={setTenantId}
        onCommit={() => onChange({ ...query, tenantId })}
      />
    </Stack>
  );
}
