// The demo application's own tables, so that the optimization engine has a real schema
// to EXPLAIN the demo's queries against: demo_print_jobs has no index on customer_ref
// (the planted missing index). Created only by the demo (`npm start`, `agog-perf demo`).
import type { Pool } from 'pg';

const DEMO_SCHEMA = `
CREATE TABLE IF NOT EXISTS demo_customers (id integer PRIMARY KEY, name text NOT NULL, region integer NOT NULL);
CREATE TABLE IF NOT EXISTS demo_users (id integer PRIMARY KEY, email text NOT NULL UNIQUE, password_hash text NOT NULL);
CREATE TABLE IF NOT EXISTS demo_products (id integer PRIMARY KEY, sku text NOT NULL, price numeric(10,2) NOT NULL);
CREATE TABLE IF NOT EXISTS demo_orders (
  id integer PRIMARY KEY, customer_id integer NOT NULL, status text NOT NULL,
  total numeric(12,2) NOT NULL, created_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS demo_orders_customer ON demo_orders (customer_id, created_at);
CREATE TABLE IF NOT EXISTS demo_order_lines (
  order_id integer NOT NULL, line integer NOT NULL, product_id integer NOT NULL, qty integer NOT NULL,
  PRIMARY KEY (order_id, line));
CREATE TABLE IF NOT EXISTS demo_print_jobs (
  id bigserial PRIMARY KEY, customer_ref text NOT NULL, pages integer NOT NULL, status text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
`;

/** Creates and fills the demo tables once; returns false when they already existed. */
export async function ensureDemoAppTables(pool: Pool): Promise<boolean> {
  const exists = await pool.query<{ found: string | null }>(`SELECT to_regclass('demo_print_jobs')::text AS found`);
  if (exists.rows[0]?.found) {
    const rows = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT 1 FROM demo_print_jobs LIMIT 1) s`);
    if (Number(rows.rows[0]!.n) > 0) return false;
  }
  await pool.query(DEMO_SCHEMA);
  await pool.query(`
    INSERT INTO demo_customers SELECT i, 'Customer ' || i, i % 12 FROM generate_series(1, 5000) i ON CONFLICT DO NOTHING;
    INSERT INTO demo_users SELECT i, 'user' || i || '@example.com', md5(i::text) FROM generate_series(1, 900) i ON CONFLICT DO NOTHING;
    INSERT INTO demo_products SELECT i, 'SKU-' || i, (i % 200) + 0.99 FROM generate_series(1, 3000) i ON CONFLICT DO NOTHING;
    INSERT INTO demo_orders SELECT i, 1 + (i::bigint * 7919) % 5000, (ARRAY['open','paid','invoiced','shipped'])[1 + i % 4],
                                   (i % 1000) + 0.5, now() - make_interval(mins => i % 43200)
      FROM generate_series(1, 200000) i ON CONFLICT DO NOTHING;
    INSERT INTO demo_order_lines SELECT o, l, 1 + (o * l) % 3000, 1 + l % 5
      FROM generate_series(1, 20000) o, generate_series(1, 10) l ON CONFLICT DO NOTHING;
    INSERT INTO demo_print_jobs (customer_ref, pages, status, created_at)
      SELECT 'CUST-' || (1 + (i::bigint * 104729) % 5000), 1 + i % 500, (ARRAY['queued','printing','done'])[1 + i % 3],
             now() - make_interval(mins => i % 43200)
        FROM generate_series(1, 300000) i;
    ANALYZE demo_customers, demo_users, demo_products, demo_orders, demo_order_lines, demo_print_jobs;`);
  return true;
}
