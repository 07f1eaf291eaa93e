// queryResponseBytes writes a query answer a frame at a time: its bytes must be exactly
// those of JSON.stringify over the whole answer, whatever the answer holds.
import type { QueryResponse } from '../src/contract/query';
import { queryResponseBytes } from '../src/http/responseBytes';

function frame(name: string, values: unknown[][]) {
  return {
    schema: { name, refId: 'A', meta: { custom: { stepMs: 300000 } }, fields: values.map((_, i) => ({ name: `f${i}`, type: 'number' as const, config: {} })) },
    data: { values },
  };
}

const cases: Array<[string, QueryResponse]> = [
  ['no results', { results: {} }],
  ['a result without frames', { results: { A: { frames: [] } } }],
  ['several results, one with an error', {
    results: {
      A: { frames: [frame('one', [[1, 2, 3], [0.5, null, 31.060738]])] },
      B: { frames: [], error: { code: 'bad_request', message: 'unknown query type "nope"', details: { field: 'queries[1].queryType' } } },
    },
  }],
  ['an error key left undefined, as JSON.stringify leaves it out', { results: { A: { frames: [frame('x', [[1]])], error: undefined } } }],
  ['text outside ASCII, escapes and numbers JSON has no form for', {
    results: {
      'ref "1"': { frames: [frame('SELECT * FROM cafés WHERE naïve = $1 -- ☕ \u2028 "quoted" \\ 𝄞', [[NaN, Infinity, -0, 1e21, 5e-324]])] },
    },
  }],
];

describe('queryResponseBytes', () => {
  it.each(cases)('writes the bytes of JSON.stringify: %s', (_name, response) => {
    const bytes = queryResponseBytes(response);
    expect(bytes.equals(Buffer.from(JSON.stringify(response), 'utf8'))).toBe(true);
  });

  it('writes many frames larger in all than one string of 128 KB, the same bytes', () => {
    const frames = Array.from({ length: 20 }, (_, e) =>
      frame(`/api/endpoint-${e}`, [Array.from({ length: 289 }, (_, k) => 1_764_000_000_000 + k * 300_000), Array.from({ length: 289 }, (_, k) => (k % 7 ? (k * 37.123457) / (e + 1) : null))]));
    const response: QueryResponse = { results: { A: { frames } } };
    const bytes = queryResponseBytes(response);
    expect(bytes.length).toBeGreaterThan(128 * 1024);
    expect(bytes.equals(Buffer.from(JSON.stringify(response), 'utf8'))).toBe(true);
  });

  it('writes a column that several frames share once per frame, the same bytes, and keeps frames of other shapes whole', () => {
    const times = Array.from({ length: 720 }, (_, k) => 1_764_000_000_000 + k * 3_600_000);
    const frames = Array.from({ length: 20 }, (_, e) => frame(`/api/endpoint-${e}`, [times, times.map((_, k) => (k % 5 ? k * 1.0137 + e : null))]));
    const odd = [
      { data: { values: [times] }, schema: { name: 'data first' } },
      { schema: { name: 'more data' }, data: { values: [times], entities: [null] } },
      { schema: { name: 'own toJSON' }, data: { values: [times], toJSON: () => ({ values: [[1]] }) } },
    ];
    const response = { results: { A: { frames: [...frames, ...odd] } } } as unknown as QueryResponse;
    const bytes = queryResponseBytes(response);
    expect(bytes.equals(Buffer.from(JSON.stringify(response), 'utf8'))).toBe(true);
    // The shared text is really in the answer once per frame that holds it.
    expect(bytes.toString('utf8').split(JSON.stringify(times)).length - 1).toBe(22);
  });
});
