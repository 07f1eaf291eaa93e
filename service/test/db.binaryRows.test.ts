// Statements read through binary COPY (src/db/binaryRows.ts): the parameters written in as
// literals mean what the same values bound as parameters mean, every column type reads
// as the plain statement gives it, and a COPY's failure leaves the connection usable.
import { refreshRollups } from '../src/db/rollups';
import { inlineParameters, parseBinaryCopy, readBinaryColumns, readBinaryRows } from '../src/db/binaryRows';
import { withTenantReadSession } from '../src/db/tenantSession';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertRequests, MINUTE } from './support/queryData';

const A = 'a1a1a1a1-0000-4000-8000-000000000001';
const B = 'b2b2b2b2-0000-4000-8000-000000000002';
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('binary_rows');
  const at = new Date(Math.floor(Date.now() / (5 * MINUTE)) * 5 * MINUTE - 60 * MINUTE);
  await insertRequests(db.pool, A, [{ at, ms: 12, endpoint: '/a' }]);
  await insertRequests(db.pool, B, [{ at, ms: 34, endpoint: '/b' }, { at, ms: 56, endpoint: '/b' }]);
  await refreshRollups(db.pool);
});

afterAll(async () => {
  await db?.drop();
});

const TRICKY_TEXT = ["it's", 'back\\slash', 'quote"d', '{braces}', 'a,b', '', 'NULL', 'line\nbreak', 'ünïcødé ✓', "\\'", '$1'];

describe('parameters written in as literals', () => {
  // [cast, value]: each is read bound and inlined, as text, and the two must agree.
  const cases: Array<[string, unknown]> = [
    ...TRICKY_TEXT.map((t): [string, unknown] => ['text', t]),
    ['text[]', TRICKY_TEXT],
    ['text[]', ['x', null, 'NULL', '']],
    ['text[]', []],
    ['bigint[]', ['9007199254740993', '-1']],
    ['integer[]', [1, -2, 3]],
    ['float8', -0.125],
    ['float8', 1e300],
    ['integer', -7],
    ['bigint', '9223372036854775807'],
    ['timestamptz', new Date('2026-03-29T01:30:00.123Z')],
    ['boolean', true],
    ['text', null],
    ['uuid', A],
  ];

  it.each(cases.map(([cast, value]) => [`${cast} ${JSON.stringify(value)}`, cast, value] as const))('reads %s as a bound parameter does', async (_label, cast, value) => {
    const text = `SELECT ($1::${cast})::text AS v`;
    const bound = (await db.pool.query<{ v: string | null }>(text, [value])).rows[0]!.v;
    expect(await readBinaryColumns(db.pool, { text, values: [value] }, ['text'])).toEqual([[bound]]);
  });

  it('tells $1 from $10 and refuses what it cannot write', () => {
    const values = Array.from({ length: 10 }, (_, i) => i + 1);
    expect(inlineParameters('SELECT $1, $10, $2', values)).toBe('SELECT (1), (10), (2)');
    expect(() => inlineParameters('SELECT $2', [1])).toThrow(/no value for \$2/);
    expect(() => inlineParameters('SELECT $1', [Number.NaN])).toThrow(/not a finite number/);
    expect(() => inlineParameters('SELECT $1', [[Number.POSITIVE_INFINITY]])).toThrow(/not a finite number/);
    expect(() => inlineParameters('SELECT $1', [{ a: 1 }])).toThrow(/cannot write a object/);
    expect(() => inlineParameters('SELECT $1', [new Date(Number.NaN)])).toThrow(/invalid date/);
  });
});

describe('binary rows', () => {
  it('reads text, float8, timestamptz and bytea as the plain statement gives them, NULLs as null', async () => {
    const text = `SELECT t, f, ts, b FROM (VALUES
        ('a'::text, 1.5::float8, timestamptz '2026-12-07T05:00:00Z', '\\x0001ff'::bytea),
        (NULL, NULL, timestamptz '1969-12-31T23:59:59.999Z', ''::bytea),
        ('ü', '-1e-310'::float8, NULL, NULL)) v(t, f, ts, b)`;
    const columns = await readBinaryColumns(db.pool, { text, values: [] }, ['text', 'float8', 'timestamptz', 'bytea']);
    expect(columns).toEqual([
      ['a', null, 'ü'],
      [1.5, null, -1e-310],
      [Date.parse('2026-12-07T05:00:00Z'), Date.parse('1969-12-31T23:59:59.999Z'), null],
      [Buffer.from([0, 1, 255]), Buffer.alloc(0), null],
    ]);
    expect(await readBinaryColumns(db.pool, { text: 'SELECT 1::float8, 2::float8 WHERE false', values: [] }, ['float8', 'float8'])).toEqual([[], []]);
  });

  it('reads a long answer, its rows split across the socket\'s reads, as the plain statement gives it', async () => {
    // About 3 MB: many reads of the socket, most of them ending inside a row.
    const text = `SELECT 'k' || (i % 37) AS k, i::float8 AS f, decode(repeat(lpad(to_hex(i % 256), 2, '0'), i % 300), 'hex') AS b
                    FROM generate_series(1, 20000) i`;
    const plain = (await db.pool.query<{ k: string; f: number; b: Buffer }>(text)).rows;
    const [k, f, b] = await readBinaryColumns(db.pool, { text, values: [] }, ['text', 'float8', 'bytea']);
    expect(k).toEqual(plain.map((row) => row.k));
    expect(f).toEqual(plain.map((row) => row.f));
    expect((b as Buffer[]).map((x) => x.toString('hex'))).toEqual(plain.map((row) => row.b.toString('hex')));
  });

  it('gives the same answer row by row, in order, and rejects with what a row\'s reader throws', async () => {
    const text = `SELECT 'k' || i AS k, CASE WHEN i % 5 = 0 THEN NULL ELSE i::float8 END AS f, decode(repeat('ab', i % 400), 'hex') AS b
                    FROM generate_series(1, 5000) i ORDER BY i`;
    const columns = ['text', 'float8', 'bytea'] as const;
    const [k, f, b] = await readBinaryColumns(db.pool, { text, values: [] }, columns);
    const rows: unknown[][] = [];
    await readBinaryRows(db.pool, { text, values: [] }, columns, (row) => rows.push([...row]));
    expect(rows.map((row) => row[0])).toEqual(k);
    expect(rows.map((row) => row[1])).toEqual(f);
    expect(rows.map((row) => (row[2] as Buffer).toString('hex'))).toEqual((b as Buffer[]).map((x) => x.toString('hex')));
    const client = await db.pool.connect();
    try {
      await expect(readBinaryRows(client, { text, values: [] }, columns, (row) => {
        if (row[0] === 'k4000') throw new Error('stop at k4000');
      })).rejects.toThrow('stop at k4000');
      expect(await readBinaryColumns(client, { text: `SELECT 'after'::text`, values: [] }, ['text'])).toEqual([['after']]);
    } finally {
      client.release();
    }
  });

  it('refuses an answer whose shape is not the one declared, and the client reads on', async () => {
    const client = await db.pool.connect();
    try {
      await expect(readBinaryColumns(client, { text: `SELECT 'a'::text, 'b'::text FROM generate_series(1, 3000)`, values: [] }, ['text']))
        .rejects.toThrow(/a row of 2 columns, 1 expected/);
      expect(await readBinaryColumns(client, { text: `SELECT 'c'::text`, values: [] }, ['text'])).toEqual([['c']]);
    } finally {
      client.release();
    }
    expect(() => parseBinaryCopy(Buffer.from('PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0', 'latin1'), ['text'])).toThrow(/without its trailer/);
  });

  it('refuses an answer whose shape is not the one declared', async () => {
    await expect(readBinaryColumns(db.pool, { text: 'SELECT 1::integer', values: [] }, ['float8'])).rejects.toThrow(/column 1 has 4 bytes/);
    await expect(readBinaryColumns(db.pool, { text: `SELECT 'a'::text, 'b'::text`, values: [] }, ['text'])).rejects.toThrow(/a row of 2 columns, 1 expected/);
    expect(() => parseBinaryCopy(Buffer.from('not a copy at all, no'), ['text'])).toThrow(/COPY signature/);
  });

  it('keeps row-level security: a tenant session reads its own rows only', async () => {
    const read = (tenant: string) => withTenantReadSession(db.pool, tenant, (session) =>
      readBinaryColumns(session, { text: 'SELECT DISTINCT tenant_id::text FROM api_metrics_rollup', values: [] }, ['text']));
    expect(await read(A)).toEqual([[A]]);
    expect(await read(B)).toEqual([[B]]);
  });

  it('rejects with the database error and leaves the connection usable', async () => {
    const client = await db.pool.connect();
    try {
      const failure = await readBinaryColumns(client, { text: 'SELECT 1 / $1::integer', values: [0] }, ['text']).then(() => null, (err: Error & { code?: string }) => err);
      expect(failure?.code).toBe('22012');
      expect((await client.query<{ n: number }>('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
      const timedOut = await withTenantReadSession(db.pool, A, async (session) => {
        await session.query(`SET LOCAL statement_timeout = '50ms'`);
        return readBinaryColumns(session, { text: 'SELECT pg_sleep(5)::text', values: [] }, ['text']);
      }).then(() => null, (err: Error & { code?: string }) => err);
      expect(timedOut?.code).toBe('57014');
    } finally {
      client.release();
    }
    expect((await db.pool.query<{ open: boolean }>(`SELECT now() <> statement_timestamp() AS open`)).rows).toEqual([{ open: false }]);
  });
});
