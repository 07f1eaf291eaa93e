import { FieldType } from '@grafana/data';

import { convertResponse, displayNameFor, humanize, toDataFrame, unitFor } from './frames';
import { WireFrame } from './types';

const healthFrame: WireFrame = {
  schema: {
    name: 'health',
    fields: [
      { name: 'time', type: 'time', config: { interval: 3_600_000 } },
      { name: 'healthScore', type: 'number', config: {} },
      { name: 'p95ResponseTimeMs', type: 'number', config: {} },
      { name: 'avg_response_time_ms', type: 'number', config: { unit: 's', displayName: 'Mean latency' } },
    ],
  },
  data: {
    values: [
      [1_700_000_000_000, 1_700_003_600_000],
      [91, 58],
      [120, 480],
      [0.05, 0.2],
    ],
  },
};

describe('toDataFrame', () => {
  const frame = toDataFrame(healthFrame as never, 'A');
  const field = (name: string) => frame.fields.find((f) => f.name === name)!;

  it('keeps the refId, the field types and the values', () => {
    expect(frame.refId).toBe('A');
    expect(frame.length).toBe(2);
    expect(field('time').type).toBe(FieldType.time);
    expect(field('healthScore').values).toEqual([91, 58]);
  });

  it("keeps the series' step on the time field, where Grafana reads it to draw gaps", () => {
    expect(field('time').config.interval).toBe(3_600_000);
  });

  it('gives the health score a 0–100 scale and a readable name', () => {
    expect(field('healthScore').config).toMatchObject({
      min: 0,
      max: 100,
      unit: 'none',
      displayNameFromDS: 'Health score',
    });
  });

  it('infers milliseconds from the field name when the service sets no unit', () => {
    expect(field('p95ResponseTimeMs').config).toMatchObject({ unit: 'ms', displayNameFromDS: 'p95 response time' });
  });

  it('keeps the unit and name the service sets, as a data source name the user can still override', () => {
    expect(field('avg_response_time_ms').config.unit).toBe('s');
    expect(field('avg_response_time_ms').config.displayNameFromDS).toBe('Mean latency');
    expect(field('avg_response_time_ms').config.displayName).toBeUndefined();
  });

  it('leaves series with labels to be named by their labels', () => {
    const byEndpoint: WireFrame = {
      schema: { fields: [{ name: 'p95', type: 'number', config: {}, labels: { endpoint: '/api/orders' } }] },
      data: { values: [[12]] },
    };
    const [p95] = toDataFrame(byEndpoint as never, 'B').fields;
    expect(p95.config.displayNameFromDS).toBeUndefined();
    expect(p95.config.unit).toBe('ms');
  });
});

describe('frames that Grafana maps by field name', () => {
  const annotationFrame: WireFrame = {
    schema: {
      fields: [
        { name: 'time', type: 'time', config: {} },
        { name: 'title', type: 'string', config: {} },
        { name: 'text', type: 'string', config: {} },
        { name: 'tags', type: 'other', config: {} },
      ],
    },
    data: { values: [[1_700_000_000_000], ['Health below 60'], ['Health score 54'], [['critical']]] },
  };

  it.each(['annotations', 'variable'] as const)('keep their field names for %s queries', (queryType) => {
    const frame = toDataFrame(annotationFrame as never, 'A', queryType);
    expect(frame.fields.map((field) => field.config.displayNameFromDS)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('are named for people in panel queries', () => {
    const frame = toDataFrame(annotationFrame as never, 'A', 'recommendations');
    expect(frame.fields[1].config.displayNameFromDS).toBe('Title');
  });
});

describe('field naming', () => {
  it.each([
    ['cpuUsagePercent', 'percent'],
    ['memory_used_mb', 'decmbytes'],
    ['totalBytes', 'bytes'],
    ['requestsPerSecond', 'reqps'],
    ['p99', 'ms'],
    ['endpoint', undefined],
  ])('gives %s the unit %s', (name, unit) => {
    expect(unitFor(name)).toBe(unit);
  });

  it('humanizes names it has no translation for', () => {
    expect(humanize('slowest_call_ms')).toBe('Slowest call');
    expect(humanize('queryPreview')).toBe('Query preview');
    expect(displayNameFor('queryPreview')).toBe('Query preview');
  });

  it('uses the translated name of a known field, whatever its case style', () => {
    expect(displayNameFor('active_connections')).toBe('Active connections');
    expect(displayNameFor('cpuUsagePercent')).toBe('CPU');
  });
});

describe('convertResponse', () => {
  it('returns the frames of every asked refId and reports errors per query', () => {
    const converted = convertResponse(
      {
        results: {
          A: { frames: [healthFrame] },
          B: { frames: [], error: { code: 'bad_request', message: 'limit must be at most 100' } },
        },
      },
      [
        { refId: 'A', queryType: 'healthSeries' },
        { refId: 'B', queryType: 'slowQueries' },
        { refId: 'C', queryType: 'overview' },
      ]
    );
    expect(converted.data.map((frame) => frame.refId)).toEqual(['A']);
    expect(converted.errors).toEqual([
      { refId: 'B', message: 'The service rejected the query: limit must be at most 100' },
      { refId: 'C', message: 'The service returned no result for query C.' },
    ]);
  });
});
