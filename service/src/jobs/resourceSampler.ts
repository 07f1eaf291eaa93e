// Self-observation: samples this process (CPU, memory, the pool's connections against its
// maximum) and the database (connections against max_connections) into
// system_resource_metrics, under the service's own tenant (AGOG_SERVICE_TENANT_ID).
import os from 'node:os';
import type { Pool } from 'pg';
import { databaseConnections } from '../db/health';
import type { GroupCommitQueue } from '../ingest/groupCommit';
import { copyText } from '../ingest/records';

export function createResourceSampler(deps: { pool: Pool; queue: GroupCommitQueue; tenantId: string; poolMax: number; source: string }) {
  let lastCpu = process.cpuUsage();
  let lastAt = process.hrtime.bigint();
  const cores = Math.max(1, os.cpus().length);
  const totalMb = os.totalmem() / 1048576;
  return async function sampleResources(): Promise<void> {
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(lastCpu);
    const elapsedUs = Number(now - lastAt) / 1000;
    lastCpu = process.cpuUsage();
    lastAt = now;
    const cpuPercent = Math.min(100, Math.max(0, ((cpu.user + cpu.system) / Math.max(1, elapsedUs) / cores) * 100));
    const rssMb = process.memoryUsage().rss / 1048576;
    const ts = new Date().toISOString();
    const db = await databaseConnections(deps.pool);
    const lines = [
      `${ts}\t${deps.tenantId}\t${cpuPercent.toFixed(2)}\t${rssMb.toFixed(1)}\t${totalMb.toFixed(0)}\t${deps.pool.totalCount}\t${deps.poolMax}\t${copyText(deps.source)}\n`,
      `${ts}\t${deps.tenantId}\t0\t0\t\\N\t${db.active}\t${db.max}\tpostgresql\n`,
    ];
    await deps.queue.enqueue({ api: [], query: [], resource: lines });
  };
}
