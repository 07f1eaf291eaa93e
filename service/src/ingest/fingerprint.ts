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
/** $tag$ as PostgreSQL's lexer reads it: letters (any beyond ASCII too), digits, underscores. */
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

export interface LiteralScanOptions {
  /**
   * Numbers: true replaces them all (default); 'normalized' keeps them only in
   * statements PostgreSQL's normalization covers (NORMALIZED_STATEMENT), decided per
   * statement of a multi-statement text; false keeps them all.
   */
  numbers?: boolean | 'normalized';
  /** Read backslash escapes in '...' strings too, as with standard_conforming_strings off. */
  backslashEscapes?: boolean;
}

/** Marks written by scanLiterals: a character inside a literal, or inside a comment or run of whitespace. */
const MARK_LITERAL = 2;
const MARK_SPACE = 1;

/**
 * The text with comments removed, every literal (quoted, E'', B'', X'', U&'', dollar-quoted,
 * numeric, hexadecimal, octal, binary, with _ separators) replaced by '?', and whitespace
 * collapsed: the cache key, and the preview of text the parser rejects. It is also applied
 * to the parser's normalized text, because PostgreSQL's normalization leaves the literals
 * of some utility statements in place (COMMENT ... IS '...', COPY ... FROM '...', SET ...).
 * One left-to-right pass that knows SQL's quoting, so a "--" inside a string or a quote
 * inside a comment cannot let a literal through. Quoted identifiers and $n placeholders
 * are kept.
 */
export function literalFreeKey(sql: string, options: LiteralScanOptions = {}): string {
  return scanLiterals(sql, options);
}

function scanLiterals(sql: string, { numbers = true, backslashEscapes = false }: LiteralScanOptions, marks?: Uint8Array): string {
  const n = sql.length;
  let out = '';
  let copied = 0; // sql[copied, i) is appended unchanged
  let i = 0;
  let cutComment = false;
  let statementStart = true;
  let keepNumbers = numbers === false;
  const replace = (end: number, text: string) => {
    if (marks) marks.fill(text === '?' ? MARK_LITERAL : MARK_SPACE, i, end);
    out += sql.slice(copied, i) + text;
    i = end;
    copied = end;
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    const afterIdentifier = i > 0 && isIdentifierChar(sql.charCodeAt(i - 1));
    if (statementStart && !isSpace(c) && !(c === 45 && sql.charCodeAt(i + 1) === 45) && !(c === 47 && sql.charCodeAt(i + 1) === 42)) {
      statementStart = false;
      if (numbers === 'normalized') keepNumbers = NORMALIZED_STATEMENT.test(sql.slice(i, i + 40));
    }
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
      const escapes = backslashEscapes || c === 69 || c === 101;
      let end = sql.indexOf("'", i) + 1;
      while (end < n) {
        const ch = sql.charCodeAt(end);
        if (escapes && ch === 92) end += 2;
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
        DOLLAR_TAG.lastIndex = i;
        const tag = DOLLAR_TAG.exec(sql);
        if (tag) { // $tag$ ... $tag$; unterminated: to the end
          const close = sql.indexOf(tag[0], i + tag[0].length);
          replace(close < 0 ? n : close + tag[0].length, '?');
        } else i++;
      }
    } else if (!afterIdentifier && (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1))))) {
      // A number: decimal with an optional fraction and exponent, or 0x / 0o / 0b, with
      // _ separators (PostgreSQL 16). Letters or digits right after it belong to it
      // (no name starts with a digit), so "0x1F" or "1_000" never leave a part behind.
      const radix = c === 48 && /[xXoObB]/.test(sql[i + 1] ?? '');
      let end = i + (radix ? 2 : 0);
      while (end < n) {
        const ch = sql.charCodeAt(end);
        if (!radix && (ch === 101 || ch === 69) && (sql.charCodeAt(end + 1) === 43 || sql.charCodeAt(end + 1) === 45) && isDigit(sql.charCodeAt(end + 2))) end += 3;
        else if (isIdentifierChar(ch) && ch !== 36) end++;
        else if (ch === 46 && !radix && isDigit(sql.charCodeAt(end + 1))) end++;
        else break;
      }
      if (keepNumbers) i = end;
      else replace(end, '?');
    } else {
      if (c === 59) statementStart = true; // ; between statements
      i++;
    }
  }
  out += sql.slice(copied);
  return (cutComment ? out.replace(/ {2,}/g, ' ') : out).trim();
}

/**
 * The preview of text the parser rejects. Whether a backslash escapes a quote depends on
 * settings the text does not carry, and in 'it\'s ...' the two readings end the string in
 * different places: each reading leaves behind what the other calls a literal. So every
 * character that either reading finds inside a literal or comment is cut.
 */
export function unparsablePreview(sql: string): string {
  const marks = new Uint8Array(sql.length);
  scanLiterals(sql, { backslashEscapes: false }, marks);
  const other = new Uint8Array(sql.length);
  scanLiterals(sql, { backslashEscapes: true }, other);
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const mark = Math.max(marks[i]!, other[i]!);
    let end = i + 1;
    if (mark === 0) {
      while (end < sql.length && marks[end] === 0 && other[end] === 0) end++;
      out += sql.slice(i, end);
    } else {
      while (end < sql.length && Math.max(marks[end]!, other[end]!) === mark) end++;
      out += mark === MARK_LITERAL ? '?' : ' ';
    }
    i = end;
  }
  return out.replace(/\s+/g, ' ').trim();
}

function toSigned64(hex: string): string {
  return BigInt.asIntN(64, BigInt('0x' + hex)).toString();
}

export function truncatePreview(text: string): string {
  const chars = Array.from(text);
  return chars.length <= PREVIEW_MAX_CHARS ? text : chars.slice(0, PREVIEW_MAX_CHARS - 1).join('') + '…';
}

/**
 * Cached results are a function of their key alone, so that a text never receives
 * anything of another text (another tenant's, perhaps) that shared its key:
 *   - a parsed text's preview holds placeholders where the key has '?'. Only the numbers
 *     normalization keeps (ORDER BY positions, type modifiers) could differ between texts
 *     of one key; a preview that keeps numbers is cached under a second key that keeps
 *     them too (NUMBERED_KEY_PREFIX);
 *   - for text the parser rejects only the hash (of the key) is cached, and the preview
 *     is made from each text itself.
 */
const cache = new LruCache<Fingerprint>(20_000);
const NUMBERED_KEY_PREFIX = '\u0000numbers\u0000';
export const fingerprintStats = { hits: 0, misses: 0, unparsable: 0 };

/** Requires loadParser() to have resolved. */
export function fingerprintQuery(sql: string): Fingerprint {
  const key = literalFreeKey(sql);
  let cached = cache.get(key);
  let numberedKey: string | undefined;
  if (cached?.preview === NUMBERS_KEPT) {
    numberedKey = NUMBERED_KEY_PREFIX + literalFreeKey(sql, { numbers: 'normalized' });
    cached = cache.get(numberedKey);
  }
  if (cached) {
    fingerprintStats.hits++;
    return cached.parsed ? cached : { ...cached, preview: truncatePreview(unparsablePreview(sql)) };
  }
  fingerprintStats.misses++;
  let result: Fingerprint;
  try {
    // Comments may hold personal data, and normalizing leaves the literals of some
    // utility statements in place: both are cut from the normalized text. In the
    // statements normalizing covers (DML, EXPLAIN), the numbers it keeps are ORDER BY
    // and GROUP BY positions and type modifiers: kept, so the preview still parses (the
    // missing-index detector plans it). In other statements, a later one of a
    // multi-statement text too, numbers go.
    const normalized = literalFreeKey(normalizeSync(sql), { numbers: 'normalized' });
    const hash = fingerprintSync(sql);
    result = { hash, hashDecimal: toSigned64(hash), preview: truncatePreview(normalized), parsed: true };
    if (literalFreeKey(normalized) !== normalized) {
      cache.set(key, { ...result, preview: NUMBERS_KEPT });
      cache.set(numberedKey ?? NUMBERED_KEY_PREFIX + literalFreeKey(sql, { numbers: 'normalized' }), result);
      return result;
    }
    cache.set(key, result);
    return result;
  } catch {
    // Not PostgreSQL syntax (or cut off): keep the scrubbed text; hash it ourselves.
    fingerprintStats.unparsable++;
    const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
    result = { hash, hashDecimal: toSigned64(hash), preview: '', parsed: false };
    cache.set(numberedKey ?? key, result);
    return { ...result, preview: truncatePreview(unparsablePreview(sql)) };
  }
}

/** Marks a key whose texts' previews keep numbers: look up the numbered key instead. */
const NUMBERS_KEPT = '\u0000numbers kept';

export function hashToHex(decimal: string | bigint): string {
  return BigInt.asUintN(64, BigInt(decimal)).toString(16).padStart(16, '0');
}

export function hexToDecimal(hex: string): string {
  return toSigned64(hex);
}
