import React, { useEffect, useMemo, useState } from 'react';
import { QueryEditorProps } from '@grafana/data';
import { Combobox, InlineField, InlineSwitch, Input, RadioButtonGroup, Stack } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { tr } from '../i18n';
import { migrateQuery } from '../migrate';
import {
  AgogDataSourceOptions,
  AgogQuery,
  DEFAULT_OPTIONS,
  ENDPOINT_ORDERS,
  EndpointOrder,
  LIMIT,
  QUERY_TYPES,
  QueryType,
  RECOMMENDATION_KINDS,
  RecommendationKind,
  SEVERITIES,
  Severity,
  SLOW_QUERY_ORDERS,
  SlowQueryOrder,
} from '../types';
import { isRunnable, parsePercentiles, validateQuery } from '../validate';
import { LABEL_WIDTH, TenantOption, TextOption } from './fields';
import { AnnotationSourceOption, VariableNameOption } from './pickers';

type Props = QueryEditorProps<DataSource, AgogQuery, AgogDataSourceOptions>;

/** Picking a type fills in that type's defaults, keeping options the user already set. */
export function withQueryType(query: AgogQuery, queryType: QueryType): AgogQuery {
  const defaults = DEFAULT_OPTIONS[queryType] as Partial<AgogQuery>;
  const kept = Object.fromEntries(
    Object.entries(defaults).map(([name, value]) => [name, query[name as keyof AgogQuery] ?? value])
  );
  return { ...query, ...kept, queryType };
}

export function QueryEditor({ query: saved, onChange, onRunQuery }: Props) {
  const query = useMemo(() => migrateQuery(saved), [saved]);
  useEffect(() => {
    // Store the migrated shape, so the dashboard saves the current model.
    if (query !== saved) {
      onChange(query);
    }
  }, [query, saved, onChange]);

  const errors = validateQuery(query);

  const change = (next: AgogQuery) => onChange(next);
  const changeAndRun = (next: AgogQuery) => {
    onChange(next);
    if (isRunnable(next)) {
      onRunQuery();
    }
  };
  const run = () => {
    if (isRunnable(query)) {
      onRunQuery();
    }
  };

  const typeOptions = QUERY_TYPES.map((type) => ({
    value: type,
    label: tr(`queryEditor.queryTypes.${type}`),
    description: tr(`queryEditor.queryTypeDescriptions.${type}`),
  }));

  return (
    <Stack direction="column" gap={0}>
      <InlineField
        label={tr('queryEditor.queryType.label')}
        tooltip={tr('queryEditor.queryType.tooltip')}
        labelWidth={LABEL_WIDTH}
        htmlFor="agog-query-type"
      >
        <Combobox<QueryType>
          id="agog-query-type"
          width={40}
          options={typeOptions}
          value={query.queryType}
          onChange={(option) => changeAndRun(withQueryType(query, option.value))}
        />
      </InlineField>
      <QueryOptions query={query} errors={errors} change={change} changeAndRun={changeAndRun} run={run} />
      <TenantOption
        id="agog-tenant"
        value={query.tenantId}
        error={errors.tenantId}
        onChange={(tenantId) => change({ ...query, tenantId })}
        onCommit={run}
      />
    </Stack>
  );
}

interface OptionsProps {
  query: AgogQuery;
  errors: ReturnType<typeof validateQuery>;
  change: (query: AgogQuery) => void;
  changeAndRun: (query: AgogQuery) => void;
  run: () => void;
}

function QueryOptions({ query, errors, change, changeAndRun, run }: OptionsProps) {
  const endpoint = (
    <TextOption
      id="agog-endpoint"
      label="queryEditor.endpoint.label"
      tooltip="queryEditor.endpoint.tooltip"
      placeholder="queryEditor.endpoint.placeholder"
      value={query.endpoint}
      onChange={(value) => change({ ...query, endpoint: value })}
      onCommit={run}
    />
  );
  const limit = (
    <LimitOption
      value={query.limit}
      error={errors.limit}
      onChange={(value) => change({ ...query, limit: value })}
      onCommit={run}
    />
  );

  switch (query.queryType) {
    case 'latencyPercentiles':
      return (
        <>
          {endpoint}
          <PercentilesOption
            value={query.percentiles}
            error={errors.percentiles}
            onChange={(percentiles) => changeAndRun({ ...query, percentiles })}
          />
          <InlineField
            label={tr('queryEditor.byEndpoint.label')}
            tooltip={tr('queryEditor.byEndpoint.tooltip')}
            labelWidth={LABEL_WIDTH}
            htmlFor="agog-by-endpoint"
          >
            <InlineSwitch
              id="agog-by-endpoint"
              value={Boolean(query.byEndpoint)}
              onChange={(event) => changeAndRun({ ...query, byEndpoint: event.currentTarget.checked })}
            />
          </InlineField>
        </>
      );
    case 'throughput':
      return endpoint;
    case 'slowQueries':
      return (
        <>
          <InlineField label={tr('queryEditor.orderBy.label')} labelWidth={LABEL_WIDTH}>
            <RadioButtonGroup<SlowQueryOrder>
              options={SLOW_QUERY_ORDERS.map((order) => ({ value: order, label: tr(`queryEditor.orderBy.${order}`) }))}
              value={query.orderBy}
              onChange={(orderBy) => changeAndRun({ ...query, orderBy })}
            />
          </InlineField>
          {limit}
          {endpoint}
        </>
      );
    case 'queryDetail':
      return (
        <TextOption
          id="agog-query-hash"
          label="queryEditor.queryHash.label"
          tooltip="queryEditor.queryHash.tooltip"
          placeholder="queryEditor.queryHash.placeholder"
          value={query.queryHash}
          error={errors.queryHash}
          onChange={(value) => change({ ...query, queryHash: value })}
          onCommit={run}
        />
      );
    case 'endpoints':
      return (
        <>
          <InlineField label={tr('queryEditor.endpointOrderBy.label')} labelWidth={LABEL_WIDTH}>
            <RadioButtonGroup<EndpointOrder>
              options={ENDPOINT_ORDERS.map((order) => ({
                value: order,
                label: tr(`queryEditor.endpointOrderBy.${order}`),
              }))}
              value={query.endpointOrderBy}
              onChange={(endpointOrderBy) => changeAndRun({ ...query, endpointOrderBy })}
            />
          </InlineField>
          {limit}
        </>
      );
    case 'resources':
      return (
        <TextOption
          id="agog-resource-source"
          label="queryEditor.resourceSource.label"
          tooltip="queryEditor.resourceSource.tooltip"
          placeholder="queryEditor.resourceSource.placeholder"
          value={query.resourceSource}
          onChange={(value) => change({ ...query, resourceSource: value })}
          onCommit={run}
        />
      );
    case 'recommendations':
      return (
        <>
          <InlineField label={tr('queryEditor.severity.label')} labelWidth={LABEL_WIDTH}>
            <RadioButtonGroup<Severity | ''>
              options={[
                { value: '', label: tr('queryEditor.severity.any') },
                ...SEVERITIES.map((severity) => ({ value: severity, label: tr(`queryEditor.severity.${severity}`) })),
              ]}
              value={query.severity ?? ''}
              onChange={(severity) => changeAndRun({ ...query, severity: severity || undefined })}
            />
          </InlineField>
          <InlineField
            label={tr('queryEditor.kind.label')}
            tooltip={tr('queryEditor.kind.tooltip')}
            labelWidth={LABEL_WIDTH}
            htmlFor="agog-kind"
          >
            <Combobox<RecommendationKind | ''>
              id="agog-kind"
              width={40}
              options={[
                { value: '', label: tr('queryEditor.kinds.any') },
                ...RECOMMENDATION_KINDS.map((kind) => ({ value: kind, label: tr(`queryEditor.kinds.${kind}`) })),
              ]}
              value={query.kind ?? ''}
              onChange={(option) => changeAndRun({ ...query, kind: option.value || undefined })}
            />
          </InlineField>
          <TextOption
            id="agog-query-hash"
            label="queryEditor.queryHash.label"
            tooltip="queryEditor.queryHash.tooltip"
            placeholder="queryEditor.queryHash.placeholder"
            value={query.queryHash}
            error={errors.queryHash}
            onChange={(value) => change({ ...query, queryHash: value })}
            onCommit={run}
          />
          {endpoint}
        </>
      );
    case 'annotations':
      return <AnnotationSourceOption query={query} onChange={changeAndRun} />;
    case 'variable':
      return <VariableNameOption query={query} onChange={changeAndRun} />;
    default:
      return null;
  }
}

interface LimitOptionProps {
  value: number | undefined;
  error?: string;
  onChange: (value: number | undefined) => void;
  onCommit: () => void;
}

function LimitOption({ value, error, onChange, onCommit }: LimitOptionProps) {
  return (
    <InlineField
      label={tr('queryEditor.limit.label')}
      tooltip={tr('queryEditor.limit.tooltip')}
      labelWidth={LABEL_WIDTH}
      invalid={Boolean(error)}
      error={error}
      htmlFor="agog-limit"
    >
      <Input
        id="agog-limit"
        type="number"
        width={12}
        min={LIMIT.min}
        max={LIMIT.max}
        value={value ?? ''}
        onChange={(event) => {
          const text = event.currentTarget.value;
          onChange(text === '' ? undefined : Number(text));
        }}
        onBlur={onCommit}
      />
    </InlineField>
  );
}

interface PercentilesOptionProps {
  value: number[] | undefined;
  error?: string;
  onChange: (value: number[]) => void;
}

/** Edited as text; stored as numbers once the text parses. */
function PercentilesOption({ value, error, onChange }: PercentilesOptionProps) {
  const [text, setText] = useState((value ?? []).join(', '));
  const [textError, setTextError] = useState<string | undefined>(undefined);
  const shownError = textError ?? error;

  const commit = () => {
    const parsed = parsePercentiles(text);
    if (!parsed) {
      setTextError(tr('validation.percentilesInvalid'));
      return;
    }
    setTextError(undefined);
    onChange(parsed);
  };

  return (
    <InlineField
      label={tr('queryEditor.percentiles.label')}
      tooltip={tr('queryEditor.percentiles.tooltip')}
      labelWidth={LABEL_WIDTH}
      invalid={Boolean(shownError)}
      error={shownError}
      htmlFor="agog-percentiles"
    >
      <Input
        id="agog-percentiles"
        width={24}
        value={text}
        placeholder={tr('queryEditor.percentiles.placeholder')}
        onChange={(event) => setText(event.currentTarget.value)}
        onBlur={commit}
      />
    </InlineField>
  );
}
