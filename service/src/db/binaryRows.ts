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
  const reader = new ColumnReader(columns);
  await runCopy(db, statement, reader);
  return reader.finish();
}

/**
 * The answer of a statement row by row, each given to `onRow` as it arrives (while the
 * database still writes the rest), its values read as readBinaryColumns reads them. The
 * array is the same one for every row, refilled: keep its values, not it. Resolves once
 * the last row has been given.
 */
export async function readBinaryRows(
  db: Queryable, statement: { text: string; values: readonly unknown[] }, columns: readonly BinaryColumn[], onRow: (row: unknown[]) => void,
): Promise<void> {
  const reader = new ColumnReader(columns, onRow);
  await runCopy(db, statement, reader);
  reader.finish();
}

async function runCopy(db: Queryable, statement: { text: string; values: readonly unknown[] }, reader: ColumnReader): Promise<void> {
  if (db instanceof Pool) {
    const client = await db.connect();
    try {
      return await runCopy(client, statement, reader);
    } finally {
      client.release();
    }
  }
  await new Promise<void>((resolve, reject) => {
    (db as PoolClient).query(new CopyOut(
      `COPY (${inlineParameters(statement.text, statement.values)}) TO STDOUT (FORMAT binary)`, reader,
      (err) => (err ? reject(err) : resolve()),
    ));
  });
}

/** The columns of COPY's binary format (header, tuples, trailer) in one buffer, as readBinaryColumns. */
export function parseBinaryCopy(data: Buffer, columns: readonly BinaryColumn[]): unknown[][] {
  const reader = new ColumnReader(columns);
  reader.read(data, 0, data.length);
  return reader.finish();
}

/**
 * Reads COPY's binary format into columns, or row by row to onRow, a piece at a time:
 * the pieces, in order, are the header followed by whole rows, or the trailer. PostgreSQL
 * sends one row per CopyData message ("Copy-out mode" in the protocol's documentation;
 * the header comes in the first one), so a piece is a message's payload; a row that runs
 * past its piece is an error.
 */
class ColumnReader {
  private readonly out: unknown[][];
  private readonly row: unknown[];
  private headerRead = false;
  private ended = false;

  /** onRow: each row is given to it rather than kept in columns. */
  constructor(private readonly columns: readonly BinaryColumn[], private readonly onRow?: (row: unknown[]) => void) {
    this.out = onRow ? [] : columns.map(() => []);
    this.row = new Array<unknown>(columns.length);
  }

  read(data: Buffer, start: number, end: number): void {
    let at = start;
    if (!this.headerRead) {
      if (end - at < SIGNATURE.length + 8 || !data.subarray(at, at + SIGNATURE.length).equals(SIGNATURE)) {
        throw new Error('binary COPY: the answer does not start with the COPY signature');
      }
      at += SIGNATURE.length + 4;
      at += 4 + data.readUInt32BE(at);
      this.headerRead = true;
    }
    const { columns, out, row, onRow } = this;
    while (at < end) {
      if (this.ended) throw new Error('binary COPY: data after the trailer');
      if (at + 2 > end) throw splitRow();
      const fields = data.readInt16BE(at);
      at += 2;
      if (fields === -1) {
        this.ended = true;
        continue;
      }
      if (fields !== columns.length) throw new Error(`binary COPY: a row of ${fields} columns, ${columns.length} expected`);
      for (let i = 0; i < fields; i++) {
        if (at + 4 > end) throw splitRow();
        const length = data.readInt32BE(at);
        at += 4;
        const column = columns[i];
        let value: unknown = null;
        if (length >= 0) {
          if (at + length > end) throw splitRow();
          if ((column === 'float8' || column === 'timestamptz') && length !== 8) throw new Error(`binary COPY: column ${i + 1} has ${length} bytes, not 8`);
          switch (column) {
            case 'float8': value = data.readDoubleBE(at); break;
            case 'timestamptz': value = (data.readInt32BE(at) * 2 ** 32 + data.readUInt32BE(at + 4)) / 1000 + POSTGRES_EPOCH_MS; break;
            case 'bytea': value = data.subarray(at, at + length); break;
            default: value = data.toString('utf8', at, at + length);
          }
          at += length;
        }
        if (onRow) row[i] = value;
        else out[i]!.push(value);
      }
      if (onRow) onRow(row);
    }
  }

  finish(): unknown[][] {
    if (!this.ended) throw new Error('binary COPY: the answer ends without its trailer');
    return this.out;
  }
}

function splitRow(): Error {
  return new Error('binary COPY: a row runs past the end of its message');
}

/** Backend messages of a COPY TO STDOUT (PostgreSQL's "Message Formats"), by type byte. */
const COPY_OUT_RESPONSE = 0x48;
const COPY_DATA = 0x64;
const COPY_DONE = 0x63;
/** Messages the backend may send at any time; skipped during the COPY. */
const ASYNCHRONOUS = new Set([0x41, 0x4e, 0x53]);

/**
 * A COPY TO STDOUT run on a pg client: it takes the connection's bytes from pg while the
 * COPY lasts and reads each CopyData message's row where it lies in the socket's chunk,
 * as the chunks arrive, so the service reads rows while the database still writes them.
 * At CopyDone, or at any other message (an ErrorResponse), it hands the rest back to pg,
 * which reads the command's end and calls handleError or handleReadyForQuery. Reading rows
 * through a Readable stream (pg-copy-streams) cost the service about as much CPU per
 * message as reading the rows themselves: docs/design/rollups.md, "How histograms travel".
 */
class CopyOut {
  private stream: NodeJS.EventEmitter | null = null;
  private pgListener: ((chunk: Buffer) => void) | null = null;
  private pending: Buffer | null = null;
  private failure: Error | null = null;

  constructor(readonly text: string, private readonly reader: ColumnReader, private readonly done: (err: Error | null) => void) {}

  submit(connection: { stream: NodeJS.EventEmitter; query: (text: string) => void }): void {
    const listeners = connection.stream.listeners('data') as Array<(chunk: Buffer) => void>;
    if (listeners.length !== 1) throw new Error(`binary COPY: the connection has ${listeners.length} data listeners, not 1`);
    this.stream = connection.stream;
    this.pgListener = listeners[0]!;
    this.stream.removeListener('data', this.pgListener);
    this.stream.on('data', this.onData);
    connection.query(this.text);
  }

  private readonly onData = (chunk: Buffer): void => {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let at = 0;
    while (data.length - at >= 5) {
      const type = data[at]!;
      const size = 1 + data.readUInt32BE(at + 1);
      if (type !== COPY_DATA && type !== COPY_OUT_RESPONSE && type !== COPY_DONE && !ASYNCHRONOUS.has(type)) {
        this.handBack(data.subarray(at));
        return;
      }
      if (data.length - at < size) break;
      if (type === COPY_DATA && !this.failure) {
        try {
          this.reader.read(data, at + 5, at + size);
        } catch (err) {
          this.failure = err as Error;
        }
      }
      at += size;
      if (type === COPY_DONE) {
        this.handBack(data.subarray(at));
        return;
      }
    }
    if (at < data.length) this.pending = data.subarray(at);
  };

  /** Gives the connection back to pg, with the bytes after the COPY's own. */
  private handBack(rest: Buffer): void {
    const stream = this.stream!;
    const pgListener = this.pgListener!;
    stream.removeListener('data', this.onData);
    stream.on('data', pgListener);
    if (rest.length > 0) pgListener(rest);
  }

  /** A database error: pg calls this and not handleReadyForQuery, which ends the command. */
  handleError(err: Error): void {
    this.done(err);
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    this.done(this.failure);
  }
}
