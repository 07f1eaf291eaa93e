/**
 * Small inputs shared by the query, variable and annotation editors. Text
 * fields report every keystroke with onChange and run the query on blur, so a
 * half-typed endpoint never reaches the service.
 */
import React from 'react';
import { InlineField, Input } from '@grafana/ui';

import { MessageKey, tr } from '../i18n';

/** Wide enough for the longest label ("Split by endpoint") in Grafana's font, in every language. */
export const LABEL_WIDTH = 20;

interface TextOptionProps {
  id: string;
  label: MessageKey;
  tooltip?: MessageKey;
  placeholder?: MessageKey;
  value: string | undefined;
  error?: string;
  width?: number;
  onChange: (value: string | undefined) => void;
  onCommit: () => void;
}

export function TextOption({
  id,
  label,
  tooltip,
  placeholder,
  value,
  error,
  width = 40,
  onChange,
  onCommit,
}: TextOptionProps) {
  return (
    <InlineField
      label={tr(label)}
      labelWidth={LABEL_WIDTH}
      tooltip={tooltip ? tr(tooltip) : undefined}
      invalid={Boolean(error)}
      error={error}
      htmlFor={id}
    >
      <Input
        id={id}
        width={width}
        value={value ?? ''}
        placeholder={placeholder ? tr(placeholder) : undefined}
        onChange={(event) => onChange(event.currentTarget.value === '' ? undefined : event.currentTarget.value)}
        onBlur={onCommit}
      />
    </InlineField>
  );
}

interface TenantOptionProps {
  id: string;
  value: string | undefined;
  error?: string;
  onChange: (value: string | undefined) => void;
  onCommit: () => void;
}

/** Admin tokens only: which tenant to read. */
export function TenantOption(props: TenantOptionProps) {
  return (
    <TextOption
      {...props}
      width={30}
      label="queryEditor.tenant.label"
      tooltip="queryEditor.tenant.tooltip"
      placeholder="queryEditor.tenant.placeholder"
    />
  );
}
