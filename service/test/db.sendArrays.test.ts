// readSendNumbers (src/db/sendArrays.ts) against what PostgreSQL's array_send writes:
// real and double precision arrays, NULL elements, empty arrays, and what it refuses.
import { readSendNumbers, realValue } from '../src/db/sendArrays';
import { createTestDatabase, type TestDatabase } from './support/db';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('send_arrays');
});

afterAll(async () => {
  await db?.drop();
});

async function send(sql: string): Promise<Buffer> {
  return (await db.pool.query<{ b: Buffer }>(`SELECT array_send(${sql}) AS b`)).rows[0]!.b;
}

describe('readSendNumbers', () => {
  it('reads real elements as their values to 8 significant digits, NULL as null', async () => {
    const values = readSendNumbers(await send(`ARRAY[357.90656, NULL, 0, -1.5, 31.060738, 0.012345679, 3.4e38]::real[]`));
    expect(values).toEqual([357.90656, null, 0, -1.5, 31.060738, 0.012345679, Math.fround(3.4e38)]);
    expect(JSON.stringify(values.slice(0, 6))).toBe('[357.90656,null,0,-1.5,31.060738,0.012345679]');
  });

  it('keeps each real within 5e-8 of its value, in at most 8 digits', async () => {
    const { rows } = await db.pool.query<{ b: Buffer; t: string }>(
      `SELECT array_send(a) AS b, a::text AS t
         FROM (SELECT array_agg((exp(random() * 20 - 6) * (1 + i % 3))::real ORDER BY i) AS a FROM generate_series(1, 2000) i) s`,
    );
    const read = readSendNumbers(rows[0]!.b) as number[];
    const text = rows[0]!.t.slice(1, -1).split(',').map(Number);
    expect(read).toHaveLength(2000);
    read.forEach((value, i) => {
      // The real itself is the float nearest its text; 8 digits are within 5e-8 of it.
      const real = Math.fround(text[i]!);
      expect(Math.abs(value - real)).toBeLessThanOrEqual(Math.abs(real) * 5e-8);
      expect(String(value).replace(/^0\.0*|[.-]|e.*$/g, '').replace(/^0+/, '').length).toBeLessThanOrEqual(8);
    });
    expect(realValue(Math.fround(1e-20))).toBe(Math.fround(1e-20));
  });

  it('reads double precision elements exactly', async () => {
    const epoch = Date.UTC(2026, 10, 29, 12, 5) / 1000;
    const values = readSendNumbers(await send(`ARRAY[date_part('epoch', timestamptz '2026-11-29 12:05:00+00'), 0.1, NULL]`));
    expect(values).toEqual([epoch, 0.1, null]);
  });

  it('reads an empty array, and array_agg of no rows is NULL rather than an array', async () => {
    expect(readSendNumbers(await send(`'{}'::real[]`))).toEqual([]);
    expect(await send(`(SELECT array_agg(x) FROM generate_series(1, 0) x)::float8[]`)).toBeNull();
  });

  it('refuses a buffer too short to hold an array header', () => {
    expect(() => readSendNumbers(Buffer.alloc(4))).toThrow('not an array in binary form (4 bytes)');
  });

  it('refuses two dimensions and elements that are not 4 or 8 bytes wide', async () => {
    // Called on buffers PostgreSQL wrote, so the refusals are about real inputs.
    const twoD = await send(`ARRAY[[1, 2], [3, 4]]::real[]`);
    expect(() => readSendNumbers(twoD)).toThrow('expected a one-dimensional array, got 2 dimensions');
    const smallints = await send(`ARRAY[1, 2]::smallint[]`);
    expect(() => readSendNumbers(smallints)).toThrow('array element 1 has 2 bytes; only real and double precision are read');
  });
});
