// Three `agog-perf serve` replicas on one database, with their schedulers on and short
// job intervals, under ingest and dashboard load on each. One replica is killed with
// SIGKILL while records wait for its group commit. Then:
//   - no two replicas ever ran one job at the same time: the intervals each reports in
//     /health (jobs.<name>.lastLockedRun, taken under the job's advisory lock) are polled
//     throughout and never overlap; while one replica's refresh is held up (the test
//     holds a lock its writes wait for), the others skip their turns;
//   - every record acknowledged by any replica, the killed one included, is stored;
//   - the other two keep answering ingest and dashboard queries, and take the jobs over.
import { createTestDatabase, type TestDatabase } from './support/db';
import { countsOf, INGEST_KINDS, storedOf, SustainedIngest, type IngestKind } from './support/load';
import { post, tokenFor } from './support/service';
import { startServeProcess, untilRecordsQueued, type ServeProcess } from './support/serveProcess';

const TENANT = '43434343-4343-4343-8343-434343434343';
const REPLICAS = 3;
const JOBS = ['refresh', 'maintain', 'optimize'];

interface Run { replica: number; from: number; to: number }

describe('three service replicas on one database', () => {
  let db: TestDatabase;
  let replicas: ServeProcess[] = [];
  let adminToken: string;
  let readToken: string;
  let ingestToken: string;
  beforeAll(async () => {
    db = await createTestDatabase('replicas');
    adminToken = await tokenFor(db, null, ['admin', 'read']);
    readToken = await tokenFor(db, TENANT, ['read']);
    ingestToken = await tokenFor(db, TENANT, ['ingest']);
    replicas = await Promise.all(Array.from({ length: REPLICAS }, () => startServeProcess(db.url, {
      SCHEDULER_ENABLED: 'true', REFRESH_INTERVAL_MS: '1000', OPTIMIZER_INTERVAL_MS: '1000', METRICS_FLUSH_INTERVAL_MS: '100',
    })));
  }, 120_000);
  afterAll(async () => {
    for (const replica of replicas) replica.child.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    await db.drop();
  });

  it('runs each job on one replica at a time, loses no acknowledged record when one is killed, and keeps serving', async () => {
    // Job runs as each replica reports them, polled from /health.
    const runs = new Map<string, Run[]>(JOBS.map((job) => [job, []]));
    const skipped = new Map<string, number[]>(JOBS.map((job) => [job, Array(REPLICAS).fill(0)]));
    const alive = new Set(replicas.map((_, i) => i));
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await Promise.all([...alive].map(async (i) => {
          const response = await fetch(`${replicas[i]!.url}/health`, { headers: { authorization: `Bearer ${adminToken}` } }).catch(() => undefined);
          if (!response?.ok) return;
          const body = (await response.json()) as { jobs: Record<string, { skippedNotLeader: number; lastLockedRun: { from: string; to: string } | null }> };
          for (const job of JOBS) {
            const status = body.jobs[job];
            if (!status) continue;
            skipped.get(job)![i] = Math.max(skipped.get(job)![i]!, status.skippedNotLeader);
            const held = status.lastLockedRun;
            if (!held) continue;
            const run = { replica: i, from: Date.parse(held.from), to: Date.parse(held.to) };
            const list = runs.get(job)!;
            if (!list.some((r) => r.replica === run.replica && r.from === run.from)) list.push(run);
          }
        }));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    // Ingest on every replica; the killed one's senders stop at its first refused connection.
    const loads = replicas.map((replica, i) => new SustainedIngest(replica.url, ingestToken, {
      label: `replica${i}`, sendersPerKind: 1, recordsPerBatch: 20, pauseMs: 20, stopOnConnectionFailure: i === 0,
    }).start());
    // Dashboard queries on every replica, one at a time each.
    const dashboardAnswers: Array<{ replica: number; status: number; at: number }> = [];
    let querying = true;
    const dashboards = replicas.map(async (replica, i) => {
      while (querying && alive.has(i)) {
        const to = Date.now();
        const answer = await post(`${replica.url}/v1/query`, readToken, {
          range: { from: to - 3_600_000, to }, maxDataPoints: 100,
          queries: [{ refId: 'A', queryType: 'overview' }, { refId: 'B', queryType: 'throughput' }, { refId: 'C', queryType: 'slowQueries' }],
        }).catch(() => ({ status: 0 }));
        dashboardAnswers.push({ replica: i, status: answer.status, at: Date.now() });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });

    const ranOnce = (job: string) => runs.get(job)!.length > 0;
    expect(await loads[0]!.until(() => loads.every((l) => l.count(200) >= 15) && JOBS.every(ranOnce), 60_000)).toBe(true);

    // Contention, made certain: the cache's writers wait on a lock the test holds, so the
    // replica running the refresh is held inside it (with the job's lock) while the
    // others' turns come; each of those must skip, not run alongside.
    const refreshSkips = () => skipped.get('refresh')!.reduce((a, b) => a + b, 0);
    const skipsBefore = refreshSkips();
    const blocker = await db.pool.connect();
    let contended: boolean;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE performance_metrics_cache IN SHARE MODE');
      contended = await loads[0]!.until(() => refreshSkips() >= skipsBefore + 2, 30_000);
    } finally {
      await blocker.query('COMMIT').catch(() => undefined);
      blocker.release();
    }
    expect(contended).toBe(true);

    // Kill replica 0 while records wait for its commit (a 100 ms flush window).
    const victim = replicas[0]!;
    expect(await untilRecordsQueued(victim.url)).toBe(true);
    victim.child.kill('SIGKILL');
    alive.delete(0);
    const killedAt = Date.now();
    const exit = await victim.exited;
    expect(exit.signal).toBe('SIGKILL');

    // The others go on: more ingest and dashboard answers, and the refresh runs again.
    const afterKill = loads.map((l) => l.answers.length);
    const survivorsServed = await loads[1]!.until(
      () => [1, 2].every((i) => loads[i]!.count(200, afterKill[i]) >= 15)
        && [1, 2].every((i) => dashboardAnswers.some((a) => a.replica === i && a.at > killedAt + 500 && a.status === 200))
        && runs.get('refresh')!.some((r) => r.from > killedAt + 500),
      60_000,
    );
    querying = false;
    await Promise.all(loads.map((l) => l.stop()));
    await Promise.all(dashboards);
    polling = false;
    await poller;
    expect(survivorsServed).toBe(true);

    // Every record acknowledged by any replica is stored, the killed one's included.
    const acknowledged = Object.fromEntries(INGEST_KINDS.map((kind) => [kind, loads.flatMap((l) => l.acknowledged[kind])])) as Record<IngestKind, string[]>;
    expect(loads[0]!.acknowledgedRecords).toBeGreaterThan(0);
    expect(await storedOf(db.pool, acknowledged)).toEqual(countsOf(acknowledged));
    // The killed replica answered 200 or dropped the connection; the others only 200.
    expect(new Set(loads[0]!.answers.map((a) => a.status))).toEqual(new Set([200, 0]));
    for (const i of [1, 2]) expect([i, [...new Set(loads[i]!.answers.map((a) => a.status))]]).toEqual([i, [200]]);
    for (const i of [1, 2]) {
      expect([i, [...new Set(dashboardAnswers.filter((a) => a.replica === i).map((a) => a.status))]]).toEqual([i, [200]]);
    }

    // One replica at a time per job: no two observed runs of a job overlap.
    for (const job of JOBS) {
      const list = runs.get(job)!.sort((a, b) => a.from - b.from);
      for (let k = 1; k < list.length; k++) {
        const [before, after] = [list[k - 1]!, list[k]!];
        expect([job, before, after, after.from >= before.to]).toEqual([job, before, after, true]);
      }
    }
    // The refresh ran on more than one replica over the run (the lock is not owned by one).
    expect(new Set(runs.get('refresh')!.map((r) => r.replica)).size).toBeGreaterThan(1);
  });
});
