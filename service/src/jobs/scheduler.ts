// In-process scheduler. Each job runs on an interval; across replicas exactly one runs
// it at a time (PostgreSQL advisory lock, pg_try_advisory_lock: the others skip that
// turn). A failed run is retried after a short back-off, and shows in /health and
// /metrics. Operators who prefer pg_cron can disable this (SCHEDULER_ENABLED=false) and
// schedule the SQL functions instead (docs/operations.md, "pg_cron instead").
import type { Pool } from 'pg';
import { recordJobRun, withJobLock } from '../db/health';
import type { ServiceMetrics } from '../http/metrics';

export interface JobDefinition {
  name: string;
  intervalMs: number;
  /** Run on every replica instead of one (e.g. sampling this process). */
  everyReplica?: boolean;
  run: () => Promise<unknown>;
}

export interface JobStatus {
  intervalMs: number;
  runs: number;
  failures: number;
  lastStartedAt: Date | null;
  lastSuccessAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  lastDurationMs: number | null;
  skippedNotLeader: number;
  /**
   * This replica's last run under the job's lock: from taking the lock to the job's end,
   * before the lock is released. Two replicas' intervals of one job never overlap
   * (test/replicas.leadership.test.ts reads them from /health).
   */
  lastLockedRun: { from: Date; to: Date } | null;
}

/** A failed run is retried after this long (or the job's interval, when shorter). */
export const JOB_RETRY_MS = 30_000;

export class Scheduler {
  private timers = new Map<string, NodeJS.Timeout>();
  private running = new Map<string, Promise<void>>();
  private state = new Map<string, JobStatus>();
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly jobs: JobDefinition[],
    private readonly metrics: ServiceMetrics,
    private readonly log: (line: string) => void = () => undefined,
    private readonly retryMs: number = JOB_RETRY_MS,
  ) {
    for (const job of jobs) {
      this.state.set(job.name, {
        intervalMs: job.intervalMs, runs: 0, failures: 0, lastStartedAt: null, lastSuccessAt: null,
        lastError: null, lastErrorAt: null, lastDurationMs: null, skippedNotLeader: 0, lastLockedRun: null,
      });
    }
  }

  start(initialDelayMs = 1000): void {
    for (const job of this.jobs) this.schedule(job, initialDelayMs);
  }

  private schedule(job: JobDefinition, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      const run = this.runNow(job.name).then((ok) => this.schedule(job, ok ? job.intervalMs : Math.min(job.intervalMs, this.retryMs)));
      this.running.set(job.name, run.then(() => undefined));
    }, delayMs);
    timer.unref();
    this.timers.set(job.name, timer);
  }

  /** Runs one job now (if this replica gets its lock). Resolves to false when it failed. */
  async runNow(name: string): Promise<boolean> {
    const job = this.jobs.find((j) => j.name === name);
    if (!job) throw new Error(`unknown job ${name}`);
    const status = this.state.get(name)!;
    const started = Date.now();
    status.lastStartedAt = new Date(started);
    try {
      const outcome = job.everyReplica ? { ran: true } : await withJobLock(this.pool, name, async () => {
        const from = new Date();
        try {
          return await job.run();
        } finally {
          status.lastLockedRun = { from, to: new Date() };
        }
      });
      if (job.everyReplica) await job.run();
      if (!outcome.ran) {
        status.skippedNotLeader++;
        return true;
      }
      status.runs++;
      status.lastSuccessAt = new Date();
      status.lastDurationMs = Date.now() - started;
      this.metrics.jobRuns[name] = (this.metrics.jobRuns[name] ?? 0) + 1;
      this.metrics.jobLastSuccess[name] = Date.now();
      this.metrics.jobLastDurationMs[name] = status.lastDurationMs;
      if (!job.everyReplica) await recordJobRun(this.pool, name, { ok: true }).catch(() => undefined);
      return true;
    } catch (err) {
      status.runs++;
      status.failures++;
      status.lastError = (err as Error).message;
      status.lastErrorAt = new Date();
      status.lastDurationMs = Date.now() - started;
      this.metrics.jobRuns[name] = (this.metrics.jobRuns[name] ?? 0) + 1;
      this.metrics.jobFailures[name] = (this.metrics.jobFailures[name] ?? 0) + 1;
      this.log(`job ${name} failed: ${(err as Error).message} (retrying in ${Math.min(job.intervalMs, this.retryMs) / 1000} s)`);
      await recordJobRun(this.pool, name, { ok: false, error: (err as Error).message }).catch(() => undefined);
      return false;
    }
  }

  status(): Record<string, JobStatus> {
    return Object.fromEntries(this.state);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    await Promise.allSettled(this.running.values());
  }
}
