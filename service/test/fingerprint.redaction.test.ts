import { fingerprintQuery, hashToHex, hexToDecimal, literalFreeKey, loadParser, PREVIEW_MAX_CHARS } from '../src/ingest/fingerprint';

describe('query fingerprints', () => {
  beforeAll(() => loadParser());

  it('replaces every literal with a placeholder, so personal data is never kept', () => {
    const fp = fingerprintQuery("SELECT * FROM customers WHERE email = 'jane@example.com' AND card = '4111111111111111' AND age > 42");
    expect(fp.parsed).toBe(true);
    expect(fp.preview).toBe('SELECT * FROM customers WHERE email = $1 AND card = $2 AND age > $3');
  });

  it('gives queries that differ only in literals the same hash, and different queries different hashes', () => {
    const a = fingerprintQuery('SELECT * FROM orders WHERE id = 1');
    const b = fingerprintQuery('SELECT * FROM orders WHERE id = 99999');
    const c = fingerprintQuery('SELECT * FROM orders WHERE customer_id = 1');
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
    expect(a.hash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('drops comments, which may carry personal data', () => {
    const fp = fingerprintQuery('/* user jane@example.com */ SELECT 1 -- ssn 123-45-6789');
    expect(fp.preview).not.toMatch(/jane|6789/);
  });

  it('scrubs literals from text the parser rejects', () => {
    const fp = fingerprintQuery("SELEC * FRM users WHERE email = 'bob@example.com' AND id = 77");
    expect(fp.parsed).toBe(false);
    expect(fp.preview).toBe('SELEC * FRM users WHERE email = ? AND id = ?');
  });

  it.each([
    ['COMMENT ... IS', "COMMENT ON TABLE customers IS 'owner jane@example.com'", 'COMMENT ON TABLE customers IS ?'],
    ['COPY ... FROM', "COPY customers FROM '/home/jane/export.csv'", 'COPY customers FROM ?'],
    ['PREPARE ... AS', "PREPARE find AS SELECT * FROM customers WHERE card = '4111111111111111' AND pin = 1234", 'PREPARE find AS SELECT * FROM customers WHERE card = ? AND pin = ?'],
  ])('scrubs the literals PostgreSQL\'s normalization leaves in %s', (_label, sql, preview) => {
    const fp = fingerprintQuery(sql);
    expect(fp.parsed).toBe(true);
    expect(fp.preview).toBe(preview);
  });

  it('keeps the ORDER BY positions and type modifiers normalization keeps, so the preview still parses', () => {
    const fp = fingerprintQuery("SELECT a::numeric(10,2), b FROM t WHERE c = 'x' GROUP BY 1, 2 ORDER BY 1 LIMIT 5");
    expect(fp.preview).toBe('SELECT a::numeric(10,2), b FROM t WHERE c = $1 GROUP BY 1, 2 ORDER BY 1 LIMIT $2');
  });

  it('does not let a literal through a "--" inside a string or a backslash-escaped quote', () => {
    const fp = fingerprintQuery("SELEC x FROM t WHERE a = 'jane--doe' AND b = E'o\\'brien' AND c = $tag$ secret $tag$");
    expect(fp.parsed).toBe(false);
    expect(fp.preview).toBe('SELEC x FROM t WHERE a = ? AND b = ? AND c = ?');
  });

  it('keeps quoted identifiers and placeholders, and digits inside names, in the cache key', () => {
    expect(literalFreeKey('SELECT "col 1", t1.c2 /* a /* nested */ b */ FROM t WHERE x = $1 AND y = -2.5e-3')).toBe('SELECT "col 1", t1.c2 FROM t WHERE x = $1 AND y = -?');
  });

  it('caps the preview at 500 characters', () => {
    const long = 'SELECT ' + Array.from({ length: 400 }, (_, i) => `column_${i}`).join(', ') + ' FROM wide';
    const fp = fingerprintQuery(long);
    expect(Array.from(fp.preview).length).toBeLessThanOrEqual(PREVIEW_MAX_CHARS);
  });

  it('keys its cache on literal-free text', () => {
    expect(literalFreeKey("select 'a''b', 1.5e3, $$x$$ from t")).toBe('select ?, ?, ? from t');
  });

  it('converts between the stored signed integer and the 16-digit hex form', () => {
    for (const hex of ['0000000000000001', 'ffffffffffffffff', '8000000000000000', 'c396c440424f8d4f']) {
      expect(hashToHex(hexToDecimal(hex))).toBe(hex);
    }
  });
});
