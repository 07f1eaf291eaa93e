// Reads of a monitored database's pg_stat_statements, for the collector
// (src/collector/). The login needs only pg_read_all_stats (docs/collector.md); the
// extension must be preloaded and created in that database, and a missing piece gives
// MonitoredSetupError with what to add. Only the connected database's entries are read
// (pg_stat_statements is per server), and not the collector login's own statements
// (hence a login of its own, docs/collector.md). Texts are fetched only for the entries asked for:
// pg_stat_statements(false) leaves the query-text file unread, which is most of the
// view's cost on a server with many statements.
import type { Queryable } from './tenantSession';

/** pg_stat_statements' counters of one entry (userid, dbid, toplevel, queryid). */
export interface StatementCounters {
  /** userid/dbid/toplevel/queryid, the entry's identity in pg_stat_statements. */
  key: string;
  queryid: string;
  calls: number;
  totalMs: number;
  rows: number;
  minMs: number | null;
  maxMs: number | null;
  meanMs: number | null;
  stddevMs: number | null;
  sharedBlksHit: number;
  sharedBlksRead: number;
  /** PostgreSQL 17+: when the entry's statistics began (a re-created entry has a later one). */
  statsSince: string | null;
}

export interface StatementsReading {
  serverVersionNum: number;
  /** pg_stat_statements_info.stats_reset (PostgreSQL 14+): the last reset of every entry. */
  statsReset: string | null;
  /** pg_stat_statements_info.dealloc (PostgreSQL 14+): entries evicted so far. */
  dealloc: number | null;
  readAt: Date;
  entries: StatementCounters[];
  /** Entries of other users whose statistics this login may not read (no pg_read_all_stats). */
  hiddenEntries: number;
  /** pg_stat_monitor is installed in this database as well. */
  statMonitor: boolean;
}

/** The monitored database lacks what the collector needs; the message says what to add. */
export class MonitoredSetupError extends Error {
  override name = 'MonitoredSetupError';
}

const MIN_VERSION_NUM = 130000;

/** Checks the extension and reads every entry of the connected database, without texts. */
export async function readStatementCounters(db: Queryable): Promise<StatementsReading> {
  // Loaded libraries register their settings: pg_stat_statements.max is there only when
  // the server preloaded it (shared_preload_libraries itself is for superusers to read).
  const setup = await db.query<{ version_num: string; extension: string | null; preloaded: boolean; monitor: boolean; database: string }>(
    `SELECT current_setting('server_version_num') AS version_num,
            (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS extension,
            EXISTS (SELECT 1 FROM pg_settings WHERE name = 'pg_stat_statements.max') AS preloaded,
            EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_monitor') AS monitor,
            current_database() AS database`,
  );
  const { version_num, extension, preloaded, monitor, database } = setup.rows[0]!;
  const serverVersionNum = Number(version_num);
  if (serverVersionNum < MIN_VERSION_NUM) {
    throw new MonitoredSetupError(`the monitored server runs PostgreSQL ${Math.floor(serverVersionNum / 10000)}; the collector reads pg_stat_statements of PostgreSQL 13 or later`);
  }
  if (extension === null) {
    throw new MonitoredSetupError(
      `pg_stat_statements is not installed in database "${database}": ` +
        (preloaded ? '' : `add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart the server, then `) +
        `run CREATE EXTENSION pg_stat_statements; in "${database}" as a superuser`,
    );
  }
  const v14 = serverVersionNum >= 140000;
  const v17 = serverVersionNum >= 170000;
  const info = v14
    ? (await db.query<{ stats_reset: string | null; dealloc: string }>(
        `SELECT stats_reset::text AS stats_reset, dealloc::text AS dealloc FROM pg_stat_statements_info`,
      ).catch(notPreloaded(database))).rows[0]
    : undefined;
  const result = await db.query<{
    key: string; queryid: string | null; calls: number; total_ms: number; rows: number; min_ms: number | null; max_ms: number | null;
    mean_ms: number | null; stddev_ms: number | null; blks_hit: number; blks_read: number; stats_since: string | null; readable: boolean;
  }>(
    `SELECT s.userid::text || '/' || s.dbid::text || '/' || ${v14 ? 's.toplevel::text' : `'t'`} || '/' || coalesce(s.queryid::text, '') AS key,
            s.queryid::text AS queryid, s.calls::float8 AS calls, s.total_exec_time AS total_ms, s.rows::float8 AS rows,
            s.min_exec_time AS min_ms, s.max_exec_time AS max_ms, s.mean_exec_time AS mean_ms, s.stddev_exec_time AS stddev_ms,
            s.shared_blks_hit::float8 AS blks_hit, s.shared_blks_read::float8 AS blks_read,
            ${v17 ? 's.stats_since::text' : 'NULL::text'} AS stats_since,
            s.queryid IS NOT NULL AS readable
       FROM pg_stat_statements(false) s
      WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND s.userid <> (SELECT oid FROM pg_roles WHERE rolname = current_user)`,
  ).catch(notPreloaded(database));
  const entries: StatementCounters[] = [];
  let hiddenEntries = 0;
  for (const row of result.rows) {
    if (!row.readable) {
      hiddenEntries++;
      continue;
    }
    entries.push({
      key: row.key, queryid: row.queryid!, calls: row.calls, totalMs: row.total_ms, rows: row.rows,
      minMs: row.min_ms, maxMs: row.max_ms, meanMs: row.mean_ms, stddevMs: row.stddev_ms,
      sharedBlksHit: row.blks_hit, sharedBlksRead: row.blks_read, statsSince: row.stats_since,
    });
  }
  return {
    serverVersionNum,
    statsReset: info?.stats_reset ?? null,
    dealloc: info ? Number(info.dealloc) : null,
    readAt: new Date(),
    entries,
    hiddenEntries,
    statMonitor: monitor,
  };
}

/** The normalized texts ($1 placeholders) of some entries, by key. */
export async function readStatementTexts(db: Queryable, serverVersionNum: number, keys: string[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const v14 = serverVersionNum >= 140000;
  const result = await db.query<{ key: string; query: string | null }>(
    `SELECT k.key, s.query
       FROM unnest($1::text[]) AS k(key)
       JOIN pg_stat_statements(true) s
         ON s.userid::text || '/' || s.dbid::text || '/' || ${v14 ? 's.toplevel::text' : `'t'`} || '/' || s.queryid::text = k.key`,
    [keys],
  );
  return new Map(result.rows.filter((row) => row.query !== null).map((row) => [row.key, row.query!]));
}

function notPreloaded(database: string) {
  return (err: { code?: string; message?: string }): never => {
    if (err.code === '55000' && /shared_preload_libraries/.test(err.message ?? '')) {
      throw new MonitoredSetupError(
        `pg_stat_statements is created in database "${database}" but not loaded: add pg_stat_statements to ` +
          `shared_preload_libraries in postgresql.conf and restart the server`,
      );
    }
    if (err.code === '42501') {
      throw new MonitoredSetupError(`the collector's login may not read pg_stat_statements in "${database}": ${err.message}; run GRANT pg_read_all_stats TO <login>`);
    }
    throw err;
  };
}
