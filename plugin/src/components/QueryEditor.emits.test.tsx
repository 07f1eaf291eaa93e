import React from 'react';
import { act, fireEvent, render, screen } from '@testing-library/react';

import type { DataSource } from '../datasource';
import { AgogQuery, QUERY_SCHEMA_VERSION } from '../types';
import { QueryEditor, withQueryType } from './QueryEditor';

function setup(query: AgogQuery) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const utils = render(
    <QueryEditor query={query} onChange={onChange} onRunQuery={onRunQuery} datasource={{} as DataSource} />
  );
  return { ...utils, onChange, onRunQuery };
}

const base = (fields: Partial<AgogQuery> & Pick<AgogQuery, 'queryType'>): AgogQuery => ({
  refId: 'A',
  schemaVersion: QUERY_SCHEMA_VERSION,
  ...fields,
});

function lastQuery(onChange: jest.Mock): AgogQuery {
  return onChange.mock.calls[onChange.mock.calls.length - 1][0];
}

// The picker's menu is virtualized: it renders only the options that fit the size it measures.
beforeAll(() => {
  jest.spyOn(HTMLElement.prototype, 'clientHeight', 'get').mockReturnValue(800);
  jest.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(400);
});

afterAll(() => jest.restoreAllMocks());

describe('QueryEditor', () => {
  it('renders the query type picker with the current type', () => {
    setup(base({ queryType: 'healthSeries' }));
    expect(screen.getByLabelText('Query type')).toHaveValue('Health score over time');
  });

  it('emits the new type with its defaults and runs it when another type is picked', async () => {
    const { onChange, onRunQuery } = setup(base({ queryType: 'healthSeries' }));
    const picker = screen.getByLabelText('Query type');
    await act(async () => {
      fireEvent.click(picker);
    });
    await act(async () => {
      fireEvent.click(await screen.findByText('Slow queries'));
    });
    expect(lastQuery(onChange)).toEqual({
      refId: 'A',
      schemaVersion: QUERY_SCHEMA_VERSION,
      queryType: 'slowQueries',
      orderBy: 'total',
      limit: 10,
    });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('shows the options of slow queries and emits the picked order', () => {
    const { onChange, onRunQuery } = setup(base({ queryType: 'slowQueries', orderBy: 'total', limit: 10 }));
    expect(screen.getByLabelText('Top N')).toHaveValue(10);
    expect(screen.getByLabelText('Endpoint')).toBeInTheDocument();
    fireEvent.click(screen.getByLabelText('p95 time'));
    expect(lastQuery(onChange)).toMatchObject({ queryType: 'slowQueries', orderBy: 'p95', limit: 10 });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('shows a validation message for a top N out of range and does not run the query', () => {
    const { onRunQuery } = setup(base({ queryType: 'slowQueries', limit: 500 }));
    expect(screen.getByText('Enter a whole number from 1 to 100')).toBeInTheDocument();
    fireEvent.blur(screen.getByLabelText('Top N'));
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it('emits the typed top N as a number', () => {
    const { onChange } = setup(base({ queryType: 'slowQueries', limit: 10 }));
    fireEvent.change(screen.getByLabelText('Top N'), { target: { value: '25' } });
    expect(lastQuery(onChange).limit).toBe(25);
  });

  it('emits an endpoint on typing and runs the query on blur', () => {
    const { onChange, onRunQuery } = setup(base({ queryType: 'throughput' }));
    fireEvent.change(screen.getByLabelText('Endpoint'), { target: { value: '$endpoint' } });
    expect(lastQuery(onChange)).toMatchObject({ queryType: 'throughput', endpoint: '$endpoint' });
    expect(onRunQuery).not.toHaveBeenCalled();
    fireEvent.blur(screen.getByLabelText('Endpoint'));
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('parses percentiles on blur and rejects a list the service would refuse', () => {
    const { onChange } = setup(base({ queryType: 'latencyPercentiles', percentiles: [50, 95, 99] }));
    const input = screen.getByLabelText('Percentiles');
    expect(input).toHaveValue('50, 95, 99');

    fireEvent.change(input, { target: { value: '75, 99.9' } });
    fireEvent.blur(input);
    expect(lastQuery(onChange).percentiles).toEqual([75, 99.9]);

    onChange.mockClear();
    fireEvent.change(input, { target: { value: '50, 100' } });
    fireEvent.blur(input);
    expect(onChange).not.toHaveBeenCalled();
    expect(screen.getByText(/Enter up to 10 percentiles above 0 and below 100/)).toBeInTheDocument();
  });

  it('emits the split-by-endpoint switch', () => {
    const { onChange } = setup(base({ queryType: 'latencyPercentiles', byEndpoint: false }));
    fireEvent.click(screen.getByLabelText('Split by endpoint'));
    expect(lastQuery(onChange).byEndpoint).toBe(true);
  });

  it('asks for a fingerprint in query detail', () => {
    setup(base({ queryType: 'queryDetail' }));
    expect(screen.getByText('Enter the fingerprint (query hash) of the query to show')).toBeInTheDocument();
  });

  it('rejects a fingerprint that is not 16 hexadecimal digits but accepts a variable', () => {
    const { rerender, onChange, onRunQuery } = setup(base({ queryType: 'queryDetail', queryHash: 'abc' }));
    expect(screen.getByText(/A fingerprint is 16 hexadecimal digits/)).toBeInTheDocument();
    rerender(
      <QueryEditor
        query={base({ queryType: 'queryDetail', queryHash: '$fingerprint' })}
        onChange={onChange}
        onRunQuery={onRunQuery}
        datasource={{} as DataSource}
      />
    );
    expect(screen.queryByText(/A fingerprint is 16 hexadecimal digits/)).not.toBeInTheDocument();
  });

  it('emits the endpoint order under its own saved name', () => {
    const { onChange } = setup(base({ queryType: 'endpoints', endpointOrderBy: 'p95', limit: 10 }));
    fireEvent.click(screen.getByLabelText('Requests per second'));
    expect(lastQuery(onChange)).toMatchObject({ endpointOrderBy: 'rps' });
    expect(lastQuery(onChange).orderBy).toBeUndefined();
  });

  it('emits the recommendation severity, and "Any" clears it', () => {
    const { onChange } = setup(base({ queryType: 'recommendations', severity: 'warning' }));
    fireEvent.click(screen.getByLabelText('Critical'));
    expect(lastQuery(onChange).severity).toBe('critical');
    fireEvent.click(screen.getByLabelText('Any'));
    expect(lastQuery(onChange).severity).toBeUndefined();
  });

  it('stores the migrated shape of an old saved query', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'slowQueries' } as AgogQuery);
    expect(onChange).toHaveBeenCalledWith({
      refId: 'A',
      queryType: 'slowQueries',
      orderBy: 'total',
      limit: 10,
      schemaVersion: QUERY_SCHEMA_VERSION,
    });
  });

  it('does not emit anything for a current query it only displays', () => {
    const { onChange } = setup(base({ queryType: 'overview' }));
    expect(onChange).not.toHaveBeenCalled();
  });

  it('validates the tenant as a UUID or a variable', () => {
    setup(base({ queryType: 'overview', tenantId: 'acme' }));
    expect(screen.getByText(/A tenant is a UUID/)).toBeInTheDocument();
  });
});

describe('withQueryType', () => {
  it('keeps options the user set that the new type shares', () => {
    const query = base({ queryType: 'endpoints', limit: 30, endpoint: '/api/x' });
    expect(withQueryType(query, 'slowQueries')).toMatchObject({
      queryType: 'slowQueries',
      limit: 30,
      orderBy: 'total',
      endpoint: '/api/x',
    });
  });
});
