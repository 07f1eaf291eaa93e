// readSendNumbers (src/db/sendArrays.ts) against what PostgreSQL's array_send writes:
// real and double precision arrays, NULL elements, empty arrays, and what it refuses.
import { readSendNumbers } from '../src/db/sendArrays';
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
  it('reads real elements as the doubles of the same values, NULL as null', async () => {
    const values = readSendNumbers(await send(`ARRAY[357.90656, NULL, 0, -1.5, 3.4e38]::real[]`));
    expect(values).toEqual([Math.fround(357.90656), null, 0, -1.5, Math.fround(3.4e38)]);
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
