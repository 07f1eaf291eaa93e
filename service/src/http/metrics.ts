// The service's own counters, served at /metrics in Prometheus text format.
import type { GroupCommitQueue } from '../ingest/groupCommit';

export class ServiceMetrics {
  recordsAccepted: Record<string, number> = { api: 0, query: 0, resource: 0 };
  recordsSampledOut: Record<string, number> = { api: 0, query: 0, resource: 0 };
  recordsRejected: Record<string, number> = { api: 0, query: 0, resource: 0 };
  batchesRefused: Record<string, number> = {};
  jobRuns: Record<string, number> = {};
  jobFailures: Record<string, number> = {};
  jobLastDurationMs: Record<string, number> = {};
  jobLastSuccess: Record<string, number> = {};
  refreshDurationMs = 0;

  render(queue: GroupCommitQueue): string {
    const lines: string[] = [];
    const family = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[Record<string, string>, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) {
        const labelText = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',');
        lines.push(`${name}${labelText ? `{${labelText}}` : ''} ${Number.isFinite(value) ? value : 0}`);
      }
    };
    const byKind = (m: Record<string, number>) => Object.entries(m).map(([kind, v]) => [{ kind }, v] as [Record<string, string>, number]);
    family('agog_ingest_records_accepted_total', 'counter', 'Records committed to PostgreSQL.', byKind(this.recordsAccepted));
    family('agog_ingest_records_sampled_out_total', 'counter', 'Valid records dropped by PERFORMANCE_SAMPLING_RATE.', byKind(this.recordsSampledOut));
    family('agog_ingest_records_rejected_total', 'counter', 'Records in batches rejected as invalid (400).', byKind(this.recordsRejected));
    family('agog_ingest_batches_refused_total', 'counter', 'Valid batches refused (429, 503, 500) and not stored.',
      Object.entries(this.batchesRefused).map(([code, v]) => [{ code }, v]));
    family('agog_ingest_queue_depth', 'gauge', 'Records waiting for or in a group commit.', [[{}, queue.depth]]);
    family('agog_ingest_queue_bytes', 'gauge', 'Bytes of COPY text waiting for or in a group commit.', [[{}, queue.depthBytes]]);
    family('agog_ingest_flushes_total', 'counter', 'Group commits.', [[{}, queue.stats.flushes]]);
    family('agog_ingest_flush_failures_total', 'counter', 'Group commits that failed.', [[{}, queue.stats.flushFailures]]);
    family('agog_ingest_last_flush_seconds', 'gauge', 'Duration of the last group commit.', [[{}, queue.stats.lastFlushMs / 1000]]);
    family('agog_database_up', 'gauge', '1 when PostgreSQL accepts ingest.', [[{}, queue.databaseAvailable ? 1 : 0]]);
    family('agog_refresh_last_duration_seconds', 'gauge', 'Duration of the last rollup refresh.', [[{}, this.refreshDurationMs / 1000]]);
    family('agog_job_runs_total', 'counter', 'Scheduled job runs on this replica.', Object.entries(this.jobRuns).map(([job, v]) => [{ job }, v]));
    family('agog_job_failures_total', 'counter', 'Scheduled job runs that failed.', Object.entries(this.jobFailures).map(([job, v]) => [{ job }, v]));
    family('agog_job_last_success_timestamp_seconds', 'gauge', 'When the job last succeeded.', Object.entries(this.jobLastSuccess).map(([job, v]) => [{ job }, v / 1000]));
    const memory = process.memoryUsage();
    family('agog_process_resident_memory_bytes', 'gauge', 'Resident set size.', [[{}, memory.rss]]);
    family('agog_process_heap_used_bytes', 'gauge', 'V8 heap in use.', [[{}, memory.heapUsed]]);
    return lines.join('\n') + '\n';
  }
}
