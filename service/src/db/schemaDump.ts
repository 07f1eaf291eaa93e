// A schema-only dump of the public schema, read from the catalogs, in a stable order.
// It is the committed snapshot migrations/snapshot/schema.sql, so every schema change
// shows up in review as a diff (test/schema.snapshot.test.ts fails on drift).
//
// Why not pg_dump: the embedded PostgreSQL package ships no pg_dump, and a pg_dump older
// than the server refuses to run. Reading the catalogs works on every version.
// Monthly partitions (<table>_YYYY_MM) depend on today's date, so they are left out;
// the parents and DEFAULT partitions are in.
import type { Pool } from 'pg';

const MONTHLY = '_[0-9]{4}_[0-9]{2}$';

export async function dumpSchema(pool: Pool): Promise<string> {
  const sections: string[] = [];
  const q = async <T extends Record<string, unknown>>(sql: string): Promise<T[]> => (await pool.query<T>(sql)).rows;

  const tables = await q<{ name: string; kind: string; partkey: string | null; bound: string | null; parent: string | null; rls: boolean; force: boolean; options: string[] | null; comment: string | null }>(`
    SELECT c.relname AS name, c.relkind::text AS kind,
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partkey,
           pg_get_expr(c.relpartbound, c.oid) AS bound,
           (SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid) AS parent,
           c.relrowsecurity AS rls, c.relforcerowsecurity AS force, c.reloptions AS options,
           obj_description(c.oid, 'pg_class') AS comment
      FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       AND c.relname !~ '${MONTHLY}'
     ORDER BY c.relname`);
  for (const t of tables) {
    const columns = await pool.query<{ name: string; type: string; notnull: boolean; def: string | null; comment: string | null }>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
              pg_get_expr(d.adbin, d.adrelid) AS def, col_description(a.attrelid, a.attnum) AS comment
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = ('public.' || quote_ident($1::text))::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [t.name],
    );
    const lines = [`-- ${kindName(t.kind)} ${t.name}${t.parent ? ` (partition of ${t.parent}: ${t.bound})` : ''}`];
    if (t.kind === 'v' || t.kind === 'm') {
      const def = await pool.query<{ def: string }>(`SELECT pg_get_viewdef(('public.' || quote_ident($1::text))::regclass, true) AS def`, [t.name]);
      lines.push(`CREATE VIEW ${t.name} AS`, def.rows[0]!.def.trim());
    } else if (t.kind !== 'S') {
      lines.push(`CREATE TABLE ${t.name} (`);
      columns.rows.forEach((c, i) => {
        const tail = i === columns.rows.length - 1 ? '' : ',';
        lines.push(`  ${c.name} ${c.type}${c.notnull ? ' NOT NULL' : ''}${c.def ? ` DEFAULT ${c.def}` : ''}${tail}`);
      });
      lines.push(`)${t.partkey ? ` PARTITION BY ${t.partkey}` : ''};`);
    }
    if (t.options?.length) lines.push(`-- options: ${t.options.join(', ')}`);
    if (t.rls) lines.push(`-- row level security: enabled${t.force ? ', forced' : ''}`);
    if (t.comment) lines.push(`-- comment: ${t.comment}`);
    for (const c of columns.rows) if (c.comment) lines.push(`-- comment on ${t.name}.${c.name}: ${c.comment}`);
    sections.push(lines.join('\n'));
  }

  const constraints = await q<{ tbl: string; name: string; def: string }>(`
    SELECT c.relname AS tbl, k.conname AS name, pg_get_constraintdef(k.oid, true) AS def
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
     WHERE c.relnamespace = 'public'::regnamespace AND c.relname !~ '${MONTHLY}'
       AND NOT (k.contype = 'c' AND k.conislocal = false)
       AND k.contype::text <> 'n' -- NOT NULL (a constraint row since PostgreSQL 18) is in the column list
     ORDER BY c.relname, k.conname`);
  if (constraints.length) {
    sections.push(['-- constraints', ...constraints.map((c) => `ALTER TABLE ${c.tbl} ADD CONSTRAINT ${c.name} ${c.def};`)].join('\n'));
  }

  const indexes = await q<{ name: string; def: string; comment: string | null }>(`
    SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def, obj_description(i.oid, 'pg_class') AS comment
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
     WHERE t.relnamespace = 'public'::regnamespace AND t.relname !~ '${MONTHLY}'
     ORDER BY i.relname`);
  if (indexes.length) {
    const lines = ['-- indexes'];
    for (const i of indexes) {
      lines.push(`${i.def};`);
      if (i.comment) lines.push(`-- comment: ${i.comment}`);
    }
    sections.push(lines.join('\n'));
  }

  const functions = await q<{ signature: string; def: string; comment: string | null; acl: string | null }>(`
    SELECT p.oid::regprocedure::text AS signature,
           CASE WHEN p.prokind = 'a'
                THEN (SELECT format('CREATE AGGREGATE %s (SFUNC = %s, STYPE = %s)', p.oid::regprocedure, a.aggtransfn, format_type(a.aggtranstype, NULL))
                        FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
                ELSE pg_get_functiondef(p.oid) END AS def,
           obj_description(p.oid, 'pg_proc') AS comment,
           (SELECT string_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || '=' || a.privilege_type, ', '
                              ORDER BY 1)
              FROM aclexplode(p.proacl) a WHERE a.grantee <> p.proowner) AS acl
      FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace
     ORDER BY 1`);
  for (const f of functions) {
    const lines = [`-- function ${f.signature}`, f.def.trim() + ';'];
    if (f.comment) lines.push(`-- comment: ${f.comment}`);
    lines.push(`-- execute granted to: ${f.acl ?? '(owner only)'}`);
    sections.push(lines.join('\n'));
  }

  const policies = await q<{ tbl: string; name: string; cmd: string; roles: string; qual: string | null; check: string | null }>(`
    SELECT c.relname AS tbl, p.polname AS name, p.polcmd::text AS cmd,
           (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END, ', ' ORDER BY 1) FROM unnest(p.polroles) r) AS roles,
           pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS check
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
     WHERE c.relnamespace = 'public'::regnamespace
     ORDER BY c.relname, p.polname`);
  if (policies.length) {
    sections.push(
      [
        '-- row level security policies',
        ...policies.map(
          (p) =>
            `CREATE POLICY ${p.name} ON ${p.tbl} FOR ${commandName(p.cmd)} TO ${p.roles}` +
            `${p.qual ? ` USING (${p.qual})` : ''}${p.check ? ` WITH CHECK (${p.check})` : ''};`,
        ),
      ].join('\n'),
    );
  }

  const grants = await q<{ tbl: string; grantee: string; privileges: string }>(`
    SELECT c.relname AS tbl, pg_get_userbyid(a.grantee) AS grantee,
           string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = 'public'::regnamespace AND c.relname !~ '${MONTHLY}' AND a.grantee <> c.relowner
     GROUP BY 1, 2
     ORDER BY 1, 2`);
  if (grants.length) {
    sections.push(['-- table privileges', ...grants.map((g) => `GRANT ${g.privileges} ON ${g.tbl} TO ${g.grantee};`)].join('\n'));
  }

  return '-- Schema snapshot of the public schema after all migrations.\n' +
    '-- Generated by `npm run schema:snapshot -w service`; do not edit by hand.\n\n' +
    sections.join('\n\n') + '\n';
}

function kindName(kind: string): string {
  return ({ r: 'table', p: 'partitioned table', v: 'view', m: 'materialized view', S: 'sequence' } as Record<string, string>)[kind] ?? kind;
}

function commandName(cmd: string): string {
  return ({ r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', '*': 'ALL' } as Record<string, string>)[cmd] ?? cmd;
}
