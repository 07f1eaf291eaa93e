// Collector benchmark: one collection round (src/collector/collect.ts) over a monitored
// database with 5,000 distinct statements, as the service runs it, and what it costs the
// monitored server. Writes service/bench/reports/collect.md.
//
// The monitored server is an embedded PostgreSQL with pg_stat_statements preloaded
// (pg_stat_statements.max 10 000), or AGOG_BENCH_MONITORED_URL (a superuser URL of a
// server configured so). Cases, each a median over several rounds:
//   new       5,000 statements the service has never seen (a new set each round, after
//             a reset): every text read and fingerprinted, 5,000 rows written;
//   changed   every entry known and with new calls: deltas only, 5,000 rows written;
//   idle      every entry known, none with new calls: nothing written.
// Service time: the round's wall-clock time and the CPU time of this process during it.
// Monitored server: the execution time of the collector's own statements by
// pg_stat_statements (read as a superuser; the collector leaves its own login's entries
// out of what it collects), and, for a local server, the CPU time of the collector's
// backend from /proc (user + system).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectRound } from '../src/collector/collect';
import { createDatabaseIfMissing } from '../src/db/admin';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/db/embedded';
import { createPool, withDatabase, type Pool } from '../src/db/pool';
import { loadParser } from '../src/ingest/fingerprint';
import { freePort, makeScratchDir } from '../src/localResources';
import { openBenchDatabase, writeReport } from './benchSupport';

const REPORT = path.join(__dirname, 'reports', 'collect.md');
const TENANT = 'be7c0000-0000-4000-8000-000000000031';
const TABLES = 50;
const COLUMNS = 100;
const DEFAULT_INTERVAL_MS = 60_000;
const log = (line: string) => process.stderr.write(line + '\n');

/**
 * Table t's name: letters, because the fingerprint ignores digits at the end of a table
 * name (partitions such as orders_2026_12 share one), so bench_t0 … bench_t49 would
 * fold 5,000 entries into 1,100 fingerprints.
 */
function tableName(t: number): string {
  return `bench_${String.fromCharCode(97 + Math.floor(t / 26))}${String.fromCharCode(97 + (t % 26))}`;
}

/**
 * Statement i of 5,000 in round r: a distinct (table, selected column, filtered column),
 * one entry and one fingerprint each; each round's set is new (a different filtered
 * column), so the service has not fingerprinted any of them before.
 */
function statement(i: number, round: number): string {
  const table = Math.floor(i / COLUMNS) % TABLES;
  return `SELECT c${i % COLUMNS} FROM ${tableName(table)} WHERE c${(i * 7 + 3 + round) % COLUMNS} = ${i}`;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fmt = (v: number, digits = 1) => v.toFixed(digits);

/** CPU seconds (user + system) of a local process, from /proc; null when unreadable. */
function processCpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

interface RoundFigures {
  wallMs: number;
  serviceCpuMs: number;
  monitoredExecMs: number;
  backendCpuMs: number | null;
  rowsWritten: number;
  textsRead: number;
  phasesMs: Record<string, number>;
}

export async function main(argv: string[] = []): Promise<number> {
  const statementsArg = argv.indexOf('--statements');
  const statements = statementsArg >= 0 ? Number(argv[statementsArg + 1]) : 5000;
  const roundsArg = argv.indexOf('--rounds');
  const rounds = roundsArg >= 0 ? Number(argv[roundsArg + 1]) : 5;
  await loadParser();
  const loadAtStart = os.loadavg()[0]!;
  const database = await openBenchDatabase('collect', log);
  let embedded: EmbeddedServer | undefined;
  let serverUrl = process.env.AGOG_BENCH_MONITORED_URL;
  if (!serverUrl) {
    log('starting an embedded PostgreSQL with pg_stat_statements as the monitored server');
    embedded = await startEmbeddedPostgres({
      dataDir: makeScratchDir('agog-bench-monitored-'), port: await freePort(), persistent: false,
      settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.max': '10000', 'pg_stat_statements.track': 'top' },
    });
    serverUrl = embedded.url;
  }
  const pool = createPool(database.url, { max: 2 });
  const name = `agog_bench_monitored_${process.pid}`;
  await createDatabaseIfMissing(serverUrl, name);
  const admin = createPool(withDatabase(serverUrl, name), { max: 1 });
  let collector: Pool | undefined;
  try {
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const role = `agog_bench_collector_${process.pid}`;
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'bench'`);
    await admin.query(`GRANT pg_read_all_stats TO ${role}`);
    const columns = Array.from({ length: COLUMNS }, (_, c) => `c${c} integer`).join(', ');
    for (let t = 0; t < TABLES; t++) await admin.query(`CREATE TABLE IF NOT EXISTS ${tableName(t)} (${columns})`);
    const collectorUrl = new URL(withDatabase(serverUrl, name));
    collectorUrl.username = role;
    collectorUrl.password = 'bench';
    collector = createPool(collectorUrl.toString(), { max: 1, idleTimeoutMs: 0 });
    const monitoredVersion = (await admin.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    const backendPid = (await collector.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const local = processCpuMs(backendPid) !== null;
    const databaseConfig = { name: 'bench', url: collectorUrl.toString(), tenantId: TENANT };
    const settings = { slowQueryThresholdMs: 1000, retentionDays: 30 };

    const workload = async (round: number) => {
      for (let i = 0; i < statements; i++) await admin.query(statement(i, round));
    };
    /** Execution time of the collector's own statements so far (pg_stat_statements, as a superuser). */
    const collectorExecMs = async () => (await admin.query<{ ms: number }>(
      `SELECT coalesce(sum(total_exec_time), 0)::float8 AS ms FROM pg_stat_statements
        WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = $1::text)`, [role])).rows[0]!.ms;
    const measure = async (): Promise<RoundFigures> => {
      const execBefore = await collectorExecMs();
      const cpuBefore = processCpuMs(backendPid);
      const serviceCpu = process.cpuUsage();
      const started = performance.now();
      const summary = await collectRound(pool, collector!, databaseConfig, settings);
      const wallMs = performance.now() - started;
      const used = process.cpuUsage(serviceCpu);
      const cpuAfter = processCpuMs(backendPid);
      const execAfter = await collectorExecMs();
      return {
        wallMs, serviceCpuMs: (used.user + used.system) / 1000, monitoredExecMs: execAfter - execBefore,
        backendCpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
        rowsWritten: summary.fingerprints, textsRead: summary.textsRead, phasesMs: summary.phasesMs,
      };
    };

    log(`${statements} distinct statements on ${TABLES} tables; baseline round`);
    await workload(0);
    await collectRound(pool, collector, databaseConfig, settings); // baseline
    const cases: Record<'new' | 'changed' | 'idle', RoundFigures[]> = { new: [], changed: [], idle: [] };
    for (let round = 1; round <= rounds; round++) {
      log(`round ${round} of ${rounds}`);
      // new: 5,000 statements never seen (after a reset, so the entries stay within
      // pg_stat_statements.max): every text read and fingerprinted.
      await admin.query('SELECT pg_stat_statements_reset()');
      await workload(round);
      cases.new.push(await measure());
      // changed: every entry known, each with one more call.
      await workload(round);
      cases.changed.push(await measure());
      // idle: nothing ran since.
      cases.idle.push(await measure());
    }
    const loadAtEnd = os.loadavg()[0]!;

    const lines: string[] = [
      '# Collector benchmark',
      '',
      `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
      `Product database: PostgreSQL ${database.version}${database.embedded ? ' (embedded)' : ''}. Monitored server: PostgreSQL ${monitoredVersion}` +
        `${embedded ? ' (embedded, pg_stat_statements preloaded, pg_stat_statements.max 10000)' : ' (AGOG_BENCH_MONITORED_URL)'}; both on this machine.`,
      `Load average (1 min) at the start and the end: ${fmt(loadAtStart, 2)} and ${fmt(loadAtEnd, 2)} (other work shares the cores).`,
      '',
      `${statements} distinct statements (${TABLES} tables of ${COLUMNS} columns; one pg_stat_statements entry and one fingerprint each), run once per round by a superuser;`,
      `the collector reads them as a login holding only pg_read_all_stats. ${rounds} rounds per case, medians (all values in the table rows).`,
      'Rows written include one or two statements of the superuser that measures the round (its reads of pg_stat_statements).',
      '',
      '## Service time of one round',
      '',
      'Wall-clock time of collectRound in the service process (reading the monitored server, fingerprinting, writing the deltas and the snapshot in one transaction), and that process\'s CPU time during it.',
      '',
      '| case | rows written | texts read | wall ms (median) | wall ms (rounds) | service CPU ms (median) |',
      '|---|---|---|---|---|---|',
    ];
    for (const [label, figures] of Object.entries(cases)) {
      lines.push(`| ${label} | ${figures[0]!.rowsWritten} | ${figures[0]!.textsRead} | **${fmt(median(figures.map((f) => f.wallMs)))}** | ` +
        `${figures.map((f) => fmt(f.wallMs)).join(', ')} | ${fmt(median(figures.map((f) => f.serviceCpuMs)))} |`);
    }
    const phaseNames = Object.keys(cases.new[0]!.phasesMs);
    lines.push(
      '',
      'Where the wall-clock time goes, per phase (medians, ms): lock and snapshot load; reading the counters and the texts on the monitored server;',
      'fingerprinting in the service; writing the deltas (into a 5-minute and an hourly bucket each), saving the snapshot and expiring old rows in the product database.',
      '',
      `| case | ${phaseNames.join(' | ')} |`,
      `|---|${phaseNames.map(() => '---').join('|')}|`,
      ...Object.entries(cases).map(([label, figures]) => `| ${label} | ${phaseNames.map((p) => fmt(median(figures.map((f) => f.phasesMs[p]!)))).join(' | ')} |`),
    );
    lines.push(
      '',
      'Target: one round over 5,000 distinct statements ≤ 1 s of the service\'s time. The wall-clock time includes the work of both',
      'databases, which run on the same cores as the service here (and as other work, see the load average); the service\'s own',
      'time is its CPU time.',
      '',
      '## Cost on the monitored server',
      '',
      'Execution time of the collector\'s own statements per round, as pg_stat_statements records it (read as a superuser before and after the round)' +
        (local ? ', and the CPU time (user + system, /proc/<pid>/stat) of the collector\'s backend process during the round, which adds parsing, planning and sending the rows.' : '.'),
      `Share of one core at the default interval (COLLECT_INTERVAL_MS = ${DEFAULT_INTERVAL_MS} ms): per-round time / ${DEFAULT_INTERVAL_MS} ms.`,
      '',
      `| case | statement time ms (median) | share of one core |${local ? ' backend CPU ms (median) | share of one core |' : ''}`,
      `|---|---|---|${local ? '---|---|' : ''}`,
    );
    for (const [label, figures] of Object.entries(cases)) {
      const exec = median(figures.map((f) => f.monitoredExecMs));
      const cpu = local ? median(figures.map((f) => f.backendCpuMs ?? 0)) : 0;
      lines.push(`| ${label} | ${fmt(exec)} | ${fmt((100 * exec) / DEFAULT_INTERVAL_MS, 3)} % |` +
        (local ? ` ${fmt(cpu)} | ${fmt((100 * cpu) / DEFAULT_INTERVAL_MS, 3)} % |` : ''));
    }
    lines.push(
      '',
      'Target: ≤ 1 % CPU on the monitored database at the default interval. The "changed" case is the steady state of a busy',
      'server (every statement ran since the last round); "new" happens after a reset or when statements first appear.',
      'The backend CPU comes from /proc in ticks of 10 ms, so single rounds below that read as 0 or 10.',
      '',
    );
    writeReport(REPORT, lines, log);
    return 0;
  } finally {
    await collector?.end();
    await admin.end();
    await pool.end();
    await embedded?.stop();
    await database.close();
  }
}
