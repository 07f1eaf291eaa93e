// The doctor's verdicts: the original runbook's daily and weekly checks, each answered
// pass, warn or fail, with the thresholds of that runbook.
import type { DoctorFacts } from '../db/checks';

export type Verdict = 'pass' | 'warn' | 'fail';

export interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
  hint?: string;
}

/** Runbook thresholds: cache target under 5 minutes, alert after 10; alert over 35 partitions. */
export const CACHE_TARGET_SECONDS = 300;
export const CACHE_STALE_SECONDS = 600;
export const PARTITION_ALERT = 35;

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

export function evaluate(facts: DoctorFacts, { retentionDays, now = new Date() }: { retentionDays: number; now?: Date }): Check[] {
  const checks: Check[] = [];
  const s = facts.cacheStalenessSeconds;
  checks.push(
    s === null
      ? { name: 'cache freshness', verdict: 'warn', detail: 'the cache is empty (no data ingested or never refreshed)', hint: 'run `agog-perf refresh`; check that the application sends data' }
      : s > CACHE_STALE_SECONDS
        ? { name: 'cache freshness', verdict: 'fail', detail: `last updated ${Math.round(s / 60)} min ago (alert after 10 min)`, hint: 'run `agog-perf refresh`; check the refresh job in /health' }
        : s > CACHE_TARGET_SECONDS
          ? { name: 'cache freshness', verdict: 'warn', detail: `last updated ${Math.round(s / 60)} min ago (target under 5 min)` }
          : { name: 'cache freshness', verdict: 'pass', detail: `last updated ${Math.round(s)} s ago` },
  );
  for (const p of facts.partitions) {
    const retentionCutoff = now.getTime() - retentionDays * 86_400_000;
    const expired = p.oldestEnd !== null && p.oldestEnd.getTime() <= retentionCutoff;
    const problems: string[] = [];
    let verdict: Verdict = 'pass';
    if (p.monthly > PARTITION_ALERT) {
      verdict = 'fail';
      problems.push(`${p.monthly} monthly partitions (alert over ${PARTITION_ALERT})`);
    }
    if (expired) {
      verdict = verdict === 'fail' ? 'fail' : 'warn';
      problems.push(`a partition ended ${p.oldestEnd!.toISOString().slice(0, 10)}, past the ${retentionDays}-day retention`);
    }
    if (!p.hasNextMonth) {
      verdict = 'fail';
      problems.push("next month's partition is missing");
    }
    if (p.defaultRows > 0) {
      verdict = verdict === 'fail' ? 'fail' : 'warn';
      problems.push(`${p.defaultRows >= 100000 ? 'over 100000' : p.defaultRows} rows in the DEFAULT partition (outside every month)`);
    }
    checks.push({
      name: `partitions of ${p.parent}`,
      verdict,
      detail: problems.length ? problems.join('; ') : `${p.monthly} monthly partitions, next month ready`,
      hint: problems.length ? 'run `agog-perf maintain`' : undefined,
    });
  }
  checks.push({
    name: 'table sizes',
    verdict: 'pass',
    detail: facts.tableSizes.map((t) => `${t.table} ${mb(t.bytes)}`).join(', '),
  });
  checks.push(
    facts.unusedIndexes.length
      ? { name: 'index usage', verdict: 'warn', detail: `never scanned: ${facts.unusedIndexes.map((i) => `${i.index} (${mb(i.bytes)})`).join(', ')}`, hint: 'see the unused-index recommendations before dropping anything' }
      : { name: 'index usage', verdict: 'pass', detail: 'no large index left unscanned' },
  );
  checks.push(
    facts.pendingDeltas > 1_000_000
      ? { name: 'refresh backlog', verdict: 'warn', detail: `${facts.pendingDeltas} rollup deltas wait for the refresh`, hint: 'run `agog-perf refresh`' }
      : { name: 'refresh backlog', verdict: 'pass', detail: `${facts.pendingDeltas} rollup deltas waiting` },
  );
  checks.push(
    facts.failingJobs.length
      ? { name: 'scheduled jobs', verdict: 'fail', detail: facts.failingJobs.map((j) => `${j.job}: ${j.error}`).join('; '), hint: 'see /health and the service log' }
      : { name: 'scheduled jobs', verdict: 'pass', detail: 'no job failing' },
  );
  const critical = facts.lowHealth.filter((h) => h.health < 60);
  checks.push(
    critical.length
      ? { name: 'health score', verdict: 'fail', detail: critical.map((h) => `${h.tenantId}: ${h.health.toFixed(1)}`).join(', ') + ' (critical under 60)' }
      : facts.lowHealth.length
        ? { name: 'health score', verdict: 'warn', detail: facts.lowHealth.map((h) => `${h.tenantId}: ${h.health.toFixed(1)}`).join(', ') + ' (degraded under 80)' }
        : { name: 'health score', verdict: 'pass', detail: 'every tenant at 80 or above in the last hour' },
  );
  return checks;
}
