// The collector of every configured monitored database (MONITORED_DATABASE_URL,
// MONITORED_DATABASES): one connection each, kept between rounds, and a round over all
// of them. Run by the scheduler's `collect` job (off unless a database is configured)
// and by `agog-perf collect --once`. One database failing (down, extension missing) does
// not keep the others from being collected; the round then fails naming it.
import type { MonitoredDatabase } from '../config';
import { createPool, redactUrl, type Pool } from '../db/pool';
import { collectRound, type CollectSettings, type RoundSummary } from './collect';

export class CollectRoundError extends Error {
  override name = 'CollectRoundError';
  constructor(readonly failures: Array<{ database: MonitoredDatabase; error: Error }>, readonly summaries: RoundSummary[]) {
    super(failures.map(({ database, error }) => `${database.name} (${redactUrl(database.url)}): ${error.message}`).join('; '));
  }
}

export class Collector {
  private readonly pools = new Map<string, Pool>();

  constructor(
    private readonly pool: Pool,
    readonly databases: MonitoredDatabase[],
    private readonly settings: CollectSettings & { intervalMs: number },
  ) {}

  private monitoredPool(database: MonitoredDatabase): Pool {
    const key = `${database.tenantId} ${database.name}`;
    let pool = this.pools.get(key);
    if (!pool) {
      // Kept open across rounds: a new backend per round would cost the monitored
      // server more than the round's own statements.
      pool = createPool(database.url, { max: 1, idleTimeoutMs: 2 * this.settings.intervalMs, applicationName: 'agog-perf collector' });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** The connection to a tenant's (first) monitored database, for planning its statements. */
  poolForTenant(tenantId: string): Pool | undefined {
    const database = this.databases.find((d) => d.tenantId === tenantId);
    return database && this.monitoredPool(database);
  }

  /** One round over every database; throws CollectRoundError when any of them failed. */
  async collectAll(): Promise<RoundSummary[]> {
    const summaries: RoundSummary[] = [];
    const failures: Array<{ database: MonitoredDatabase; error: Error }> = [];
    for (const database of this.databases) {
      try {
        summaries.push(await collectRound(this.pool, this.monitoredPool(database), database, this.settings));
      } catch (err) {
        failures.push({ database, error: err as Error });
      }
    }
    if (failures.length > 0) throw new CollectRoundError(failures, summaries);
    return summaries;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pools.values()].map((pool) => pool.end()));
    this.pools.clear();
  }
}
