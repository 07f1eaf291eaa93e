// Query text → fingerprint and preview, with PostgreSQL's own parser (libpg-query):
// literals become placeholders ($1, $2, ...), so numbers, strings and personal data in
// the text are never stored. Parsing costs tens of microseconds, so results are cached
// by a cheap literal-free key of the raw text: texts that differ only in literals share
// one parse. Text the parser rejects is scrubbed of everything that looks like a literal.
import { createHash } from 'node:crypto';
import { fingerprintSync, loadModule, normalizeSync } from 'libpg-query';
import { LruCache } from '../lruCache';

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

function isIdentifierChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 36 || code >= 128;
}
function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}
const STRING_PREFIX = /[EeBbXxNn]/;
/** Statements whose every constant PostgreSQL's normalization replaces by $n. */
const NORMALIZED_STATEMENT = /^\(*\s*(?:SELECT|INSERT|UPDATE|DELETE|MERGE|WITH|VALUES|TABLE|EXPLAIN)\b/i;
const DOLLAR_TAG = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/;

/**
 * The text with comments removed, every literal (quoted, E'', B'', X'', U&'', dollar-quoted,
 * numeric) replaced by '?', and whitespace collapsed: the cache key, and the preview of
 * text the parser rejects. It is also applied to the parser's normalized text, because
 * PostgreSQL's normalization leaves the literals of some utility statements in place
 * (COMMENT ... IS '...', COPY ... FROM '...', PREPARE ... AS ...). One left-to-right pass
 * that knows SQL's quoting, so a "--" inside a string or a quote inside a comment cannot
 * let a literal through. Quoted identifiers and $n placeholders are kept.
 */
export function literalFreeKey(sql: string, { numbers = true }: { numbers?: boolean } = {}): string {
  const n = sql.length;
  let out = '';
  let copied = 0; // sql[copied, i) is appended unchanged
  let i = 0;
  let cutComment = false;
  const replace = (end: number, text: string) => {
    out += sql.slice(copied, i) + text;
    i = end;
    copied = end;
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    const afterIdentifier = i > 0 && isIdentifierChar(sql.charCodeAt(i - 1));
    if (isSpace(c)) {
      let end = i + 1;
      while (end < n && isSpace(sql.charCodeAt(end))) end++;
      if (end - i > 1 || c !== 32) replace(end, ' ');
      else i = end;
    } else if (c === 45 && sql.charCodeAt(i + 1) === 45) { // -- line comment
      const newline = sql.indexOf('\n', i);
      replace(newline < 0 ? n : newline, ' ');
      cutComment = true;
    } else if (c === 47 && sql.charCodeAt(i + 1) === 42) { // /* block comment */, nested as in PostgreSQL
      let depth = 1;
      let end = i + 2;
      while (end < n && depth > 0) {
        if (sql.charCodeAt(end) === 47 && sql.charCodeAt(end + 1) === 42) { depth++; end += 2; }
        else if (sql.charCodeAt(end) === 42 && sql.charCodeAt(end + 1) === 47) { depth--; end += 2; }
        else end++;
      }
      replace(Math.min(end, n), ' ');
      cutComment = true;
    } else if (
      c === 39 ||
      (!afterIdentifier && sql.charCodeAt(i + 1) === 39 && STRING_PREFIX.test(sql[i]!)) ||
      (!afterIdentifier && (c === 85 || c === 117) && sql.charCodeAt(i + 1) === 38 && sql.charCodeAt(i + 2) === 39)
    ) { // '...' with '' escapes; E'...' also with backslash escapes; unterminated: to the end
      const backslashEscapes = c === 69 || c === 101;
      let end = sql.indexOf("'", i) + 1;
      while (end < n) {
        const ch = sql.charCodeAt(end);
        if (backslashEscapes && ch === 92) end += 2;
        else if (ch !== 39) end++;
        else if (sql.charCodeAt(end + 1) === 39) end += 2;
        else { end++; break; }
      }
      replace(Math.min(end, n), '?');
    } else if (c === 34) { // "quoted identifier": kept
      let end = i + 1;
      while (end < n) {
        if (sql.charCodeAt(end) !== 34) end++;
        else if (sql.charCodeAt(end + 1) === 34) end += 2;
        else { end++; break; }
      }
      i = Math.min(end, n);
    } else if (c === 36 && !afterIdentifier) {
      if (isDigit(sql.charCodeAt(i + 1))) { // $n placeholder: kept
        i++;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
      } else {
        const tag = DOLLAR_TAG.exec(sql.slice(i, i + 66));
        if (tag) { // $tag$ ... $tag$; unterminated: to the end
          const close = sql.indexOf(tag[0], i + tag[0].length);
          replace(close < 0 ? n : close + tag[0].length, '?');
        } else i++;
      }
    } else if (!afterIdentifier && (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1))))) {
      let end = i;
      while (end < n && isDigit(sql.charCodeAt(end))) end++;
      if (sql.charCodeAt(end) === 46) {
        end++;
        while (end < n && isDigit(sql.charCodeAt(end))) end++;
      }
      const e = sql.charCodeAt(end);
      if (e === 101 || e === 69) {
        let exponent = end + 1;
        if (sql.charCodeAt(exponent) === 43 || sql.charCodeAt(exponent) === 45) exponent++;
        if (isDigit(sql.charCodeAt(exponent))) {
          end = exponent;
          while (end < n && isDigit(sql.charCodeAt(end))) end++;
        }
      }
      if (!numbers || (end < n && isIdentifierChar(sql.charCodeAt(end)))) i = end; // kept, or part of a name
      else replace(end, '?');
    } else {
      i++;
    }
  }
  out += sql.slice(copied);
  return (cutComment ? out.replace(/ {2,}/g, ' ') : out).trim();
}

function toSigned64(hex: string): string {
  return BigInt.asIntN(64, BigInt('0x' + hex)).toString();
}

export function truncatePreview(text: string): string {
  const chars = Array.from(text);
  return chars.length <= PREVIEW_MAX_CHARS ? text : chars.slice(0, PREVIEW_MAX_CHARS - 1).join('') + '…';
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
    // Comments may hold personal data, and normalizing leaves the literals of some
    // utility statements in place: both are cut from the normalized text. In the
    // statements normalizing covers (DML, EXPLAIN), the numbers it keeps are ORDER BY
    // and GROUP BY positions and type modifiers: kept, so the preview still parses (the
    // missing-index detector plans it). Elsewhere numbers go too.
    let normalized = literalFreeKey(normalizeSync(sql), { numbers: false });
    if (!NORMALIZED_STATEMENT.test(normalized)) normalized = literalFreeKey(normalized);
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
