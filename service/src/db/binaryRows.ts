// Statements read through COPY (FORMAT binary), by column: for the read path's
// statements that return many histograms. A `bytea` read by a plain statement travels
// as hex text, twice its size, which PostgreSQL writes and the service turns into a
// string and then back into bytes; in binary COPY it travels as itself and is read in
// place. Why and how much: docs/design/rollups.md ("How histograms travel").
//
// COPY takes no bind parameters, so the statement's are written into it as literals,
// each with the text pg would have bound and quoted by escapeLiteral; the casts the
// statement gives its parameters apply to the literals the same way.
import { escapeLiteral, Pool, type PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Queryable } from './tenantSession';

/**
 * How a column of the statement is read; the statement casts it to this type. A
 * timestamptz is read as milliseconds since 1970 (in binary it is the microseconds since
 * 2000, which PostgreSQL sends without converting; extract(epoch …) would cost it a
 * numeric per row).
 */
export type BinaryColumn = 'text' | 'float8' | 'bytea' | 'timestamptz';

/** 2000-01-01T00:00:00Z in milliseconds since 1970. */
const POSTGRES_EPOCH_MS = 946_684_800_000;

/** The first bytes of every binary COPY output. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * A statement with positional parameters ($1, $2, … as src/rollups/sql.ts writes them,
 * and no other `$` in its text) with its parameters written in as literals.
 */
export function inlineParameters(text: string, values: readonly unknown[]): string {
  return text.replace(/\$(\d+)(?!\d)/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index < 0 || index >= values.length) throw new Error(`inlineParameters: no value for $${n}`);
    return literal(values[index]);
  });
}

/** A value as an SQL literal, with the text pg would send for it as a parameter. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`inlineParameters: ${value} is not a finite number`);
    return `(${value})`;
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return escapeLiteral(value);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Error('inlineParameters: invalid date');
    return escapeLiteral(value.toISOString());
  }
  if (Array.isArray(value)) return escapeLiteral(`{${value.map(arrayElement).join(',')}}`);
  throw new Error(`inlineParameters: cannot write a ${typeof value} as a literal`);
}

/** One element of an array's text form, quoted as array_in reads it. */
function arrayElement(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`inlineParameters: ${value} is not a finite number`);
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`inlineParameters: cannot write a ${typeof value} in an array`);
  return `"${String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The answer of a statement (text with $n parameters, and their values) by column: one
 * array per column of `columns`, each holding its rows' values read as the column says
 * (text as a string, float8 and timestamptz as numbers, bytea as a Buffer viewing the
 * answer's bytes; NULL as null). By column, a long answer costs no object per row. On a
 * pool, one of its clients runs it.
 */
export async function readBinaryColumns(
  db: Queryable, statement: { text: string; values: readonly unknown[] }, columns: readonly BinaryColumn[],
): Promise<unknown[][]> {
  if (db instanceof Pool) {
    const client = await db.connect();
    try {
      return await readBinaryColumns(client, statement, columns);
    } finally {
      client.release();
    }
  }
  const copy = copyTo(`COPY (${inlineParameters(statement.text, statement.values)}) TO STDOUT (FORMAT binary)`);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const stream = (db as PoolClient).query(copy);
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  return parseBinaryCopy(Buffer.concat(chunks), columns);
}

/** The columns of COPY's binary format (header, tuples, trailer), as readBinaryColumns. */
export function parseBinaryCopy(data: Buffer, columns: readonly BinaryColumn[]): unknown[][] {
  if (data.length < SIGNATURE.length + 8 || !data.subarray(0, SIGNATURE.length).equals(SIGNATURE)) {
    throw new Error('binary COPY: the answer does not start with the COPY signature');
  }
  let at = SIGNATURE.length + 4;
  at += 4 + data.readUInt32BE(at);
  const out: unknown[][] = columns.map(() => []);
  for (;;) {
    const fields = data.readInt16BE(at);
    at += 2;
    if (fields === -1) return out;
    if (fields !== columns.length) throw new Error(`binary COPY: a row of ${fields} columns, ${columns.length} expected`);
    for (let i = 0; i < fields; i++) {
      const length = data.readInt32BE(at);
      at += 4;
      const column = columns[i];
      if (length < 0) {
        out[i]!.push(null);
        continue;
      }
      if ((column === 'float8' || column === 'timestamptz') && length !== 8) throw new Error(`binary COPY: column ${i + 1} has ${length} bytes, not 8`);
      switch (column) {
        case 'float8': out[i]!.push(data.readDoubleBE(at)); break;
        case 'timestamptz': out[i]!.push((data.readInt32BE(at) * 2 ** 32 + data.readUInt32BE(at + 4)) / 1000 + POSTGRES_EPOCH_MS); break;
        case 'bytea': out[i]!.push(data.subarray(at, at + length)); break;
        default: out[i]!.push(data.toString('utf8', at, at + length));
      }
      at += length;
    }
  }
}
