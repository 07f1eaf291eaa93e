/** Pickers used both inside the query editor and in the variable and annotation editors. */
import React from 'react';
import { InlineField, RadioButtonGroup } from '@grafana/ui';

import { tr } from '../i18n';
import {
  AgogQuery,
  ANNOTATION_SOURCES,
  AnnotationSource,
  DEFAULT_OPTIONS,
  VARIABLE_NAMES,
  VariableName,
} from '../types';
import { LABEL_WIDTH } from './fields';

interface PickerProps {
  query: AgogQuery;
  onChange: (query: AgogQuery) => void;
}

export function AnnotationSourceOption({ query, onChange }: PickerProps) {
  return (
    <InlineField label={tr('queryEditor.source.label')} labelWidth={LABEL_WIDTH}>
      <RadioButtonGroup<AnnotationSource>
        options={ANNOTATION_SOURCES.map((source) => ({ value: source, label: tr(`queryEditor.source.${source}`) }))}
        value={query.source ?? DEFAULT_OPTIONS.annotations.source}
        onChange={(source) => onChange({ ...query, source })}
      />
    </InlineField>
  );
}

export function VariableNameOption({ query, onChange }: PickerProps) {
  return (
    <InlineField label={tr('queryEditor.variable.label')} labelWidth={LABEL_WIDTH}>
      <RadioButtonGroup<VariableName>
        options={VARIABLE_NAMES.map((kind) => ({ value: kind, label: tr(`queryEditor.variable.${kind}`) }))}
        value={query.variable ?? DEFAULT_OPTIONS.variable.variable}
        onChange={(variable) => onChange({ ...query, variable })}
      />
    </InlineField>
  );
}
