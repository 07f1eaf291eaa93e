// Query text → fingerprint and preview, with PostgreSQL's own parser (libpg-query):
// literals become placeholders ($1, $2, ...), so numbers, strings and personal data in
// the text are never stored. Parsing costs tens of microseconds, so results are cached
// by a cheap literal-free key of the raw text: texts that differ only in literals share
// one parse. Text the parser rejects is scrubbed of everything that looks like a literal.
import { createHash } from 'node:crypto';
import { fingerprintSync, loadModule, normalizeSync } from 'libpg-query';

export const PREVIEW_MAX_CHARS = 500;

export interface Fingerprint {
  /** 16 hexadecimal digits. */
  hash: string;
  /** The hash as a signed 64-bit integer, as the query_hash column stores it. */
  hashDecimal: string;
  preview: string;
  parsed: boolean;
}

let ready: Promise<void> | undefined;
export function loadParser(): Promise<void> {
  ready ??= loadModule();
  return ready;
}

const STRING_LITERAL = /(?:[EeBbXxNn]|[Uu]&)?'(?:[^']|'')*'/g;
const DOLLAR_QUOTED = /\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g;
const NUMBER_LITERAL = /(?<![A-Za-z0-9_$])-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![A-Za-z0-9_])/g;
const LINE_COMMENT = /--[^\n]*/g;
const BLOCK_COMMENT = /\/\*[\s\S]*?\*\//g;

/** The text with comments removed and every literal replaced by '?': the cache key. */
export function literalFreeKey(sql: string): string {
  return sql
    .replace(BLOCK_COMMENT, ' ')
    .replace(LINE_COMMENT, ' ')
    .replace(DOLLAR_QUOTED, '?')
    .replace(STRING_LITERAL, '?')
    .replace(NUMBER_LITERAL, '?')
    .replace(/\s+/g, ' ')
    .trim();
}

function toSigned64(hex: string): string {
  return BigInt.asIntN(64, BigInt('0x' + hex)).toString();
}

export function truncatePreview(text: string): string {
  const chars = Array.from(text);
  return chars.length <= PREVIEW_MAX_CHARS ? text : chars.slice(0, PREVIEW_MAX_CHARS - 1).join('') + '…';
}

class LruCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }
  get size(): number {
    return this.map.size;
  }
}

const cache = new LruCache<Fingerprint>(20_000);
export const fingerprintStats = { hits: 0, misses: 0, unparsable: 0 };

/** Requires loadParser() to have resolved. */
export function fingerprintQuery(sql: string): Fingerprint {
  const key = literalFreeKey(sql);
  const cached = cache.get(key);
  if (cached) {
    fingerprintStats.hits++;
    return cached;
  }
  fingerprintStats.misses++;
  let result: Fingerprint;
  try {
    // Literals are placeholders after normalizing, so comments (which may hold personal
    // data) can be cut safely from the normalized text.
    const normalized = normalizeSync(sql)
      .replace(BLOCK_COMMENT, ' ')
      .replace(LINE_COMMENT, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    const hash = fingerprintSync(sql);
    result = { hash, hashDecimal: toSigned64(hash), preview: truncatePreview(normalized), parsed: true };
  } catch {
    // Not PostgreSQL syntax (or cut off): keep the scrubbed text; hash it ourselves.
    fingerprintStats.unparsable++;
    const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
    result = { hash, hashDecimal: toSigned64(hash), preview: truncatePreview(key), parsed: false };
  }
  cache.set(key, result);
  return result;
}

export function hashToHex(decimal: string | bigint): string {
  return BigInt.asUintN(64, BigInt(decimal)).toString(16).padStart(16, '0');
}

export function hexToDecimal(hex: string): string {
  return toSigned64(hex);
}
