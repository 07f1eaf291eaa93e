import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';

import type { DataSource } from '../datasource';
import { AgogQuery, QUERY_SCHEMA_VERSION } from '../types';
import { AnnotationQueryEditor } from './AnnotationQueryEditor';
import { VariableQueryEditor } from './VariableQueryEditor';

const noop = () => {};

describe('VariableQueryEditor', () => {
  it('offers endpoints, fingerprints and tenants and emits the choice', () => {
    const onChange = jest.fn();
    const query: AgogQuery = {
      refId: 'A',
      queryType: 'variable',
      variable: 'endpoints',
      schemaVersion: QUERY_SCHEMA_VERSION,
    };
    render(<VariableQueryEditor query={query} onChange={onChange} onRunQuery={noop} datasource={{} as DataSource} />);
    expect(screen.getByLabelText('Endpoints')).toBeChecked();
    fireEvent.click(screen.getByLabelText('Tenants (admin token)'));
    expect(onChange).toHaveBeenCalledWith({ ...query, variable: 'tenants' });
  });

  it('upgrades a variable query saved as a plain string', () => {
    const onChange = jest.fn();
    render(
      <VariableQueryEditor
        query={'fingerprints' as unknown as AgogQuery}
        onChange={onChange}
        onRunQuery={noop}
        datasource={{} as DataSource}
      />
    );
    expect(onChange).toHaveBeenCalledWith({
      refId: 'variable',
      queryType: 'variable',
      variable: 'fingerprints',
      schemaVersion: QUERY_SCHEMA_VERSION,
    });
  });

  it('emits the tenant only when the field loses focus', () => {
    const onChange = jest.fn();
    const query: AgogQuery = {
      refId: 'A',
      queryType: 'variable',
      variable: 'endpoints',
      schemaVersion: QUERY_SCHEMA_VERSION,
    };
    render(<VariableQueryEditor query={query} onChange={onChange} onRunQuery={noop} datasource={{} as DataSource} />);
    const tenant = screen.getByLabelText('Tenant');
    fireEvent.change(tenant, { target: { value: '$tenant' } });
    expect(onChange).not.toHaveBeenCalled();
    fireEvent.blur(tenant);
    expect(onChange).toHaveBeenCalledWith({ ...query, tenantId: '$tenant' });
  });
});

describe('AnnotationQueryEditor', () => {
  it('offers recommendations and health-threshold crossings and emits the choice', () => {
    const onChange = jest.fn();
    const query: AgogQuery = {
      refId: 'Anno',
      queryType: 'annotations',
      source: 'recommendations',
      schemaVersion: QUERY_SCHEMA_VERSION,
    };
    render(<AnnotationQueryEditor query={query} onChange={onChange} onRunQuery={noop} datasource={{}} />);
    expect(screen.getByLabelText('Recommendations')).toBeChecked();
    fireEvent.click(screen.getByLabelText('Health threshold crossings'));
    expect(onChange).toHaveBeenCalledWith({ ...query, source: 'healthThresholds' });
  });
});
