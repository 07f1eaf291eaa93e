// Group commit: concurrent ingest requests share one transaction of COPYs. A request's
// promise resolves only after the transaction holding its rows committed, so an
// acknowledged record is durable. Memory is bounded by queueMaxRecords and queueMaxBytes:
// past either, new batches are refused (429) rather than dropped. When PostgreSQL is unreachable, batches
// are refused (503) until a background probe sees it back; then ingest resumes by itself.
import type { Pool, PoolClient } from 'pg';
import { isPoolExhausted } from '../db/pool';
import { claimIdempotencyKeys, idempotencyClaimId, type IdempotencyClaim } from '../db/idempotencyKeys';
import { type Lines, writeRecords } from '../db/ingestCopy';
import type { DeltaSettings } from './rollupDeltas';

export type { Lines };

export class IngestRejected extends Error {
  constructor(
    readonly status: 429 | 500 | 503,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'IngestRejected';
  }
}

export type { IdempotencyClaim } from '../db/idempotencyKeys';

/** What enqueue resolves with once its batch is durable. */
export interface EnqueueOutcome {
  /** Set when the batch's idempotency key was stored before: nothing was written now. */
  replayed?: { accepted: number; sampledOut: number };
}

export interface EnqueueOptions {
  /** Stored in the transaction that writes the batch; a batch whose key is stored already is not written again. */
  idempotency?: IdempotencyClaim;
}

interface PendingBatch {
  lines: Lines;
  count: number;
  bytes: number;
  idempotency?: IdempotencyClaim;
  resolve: (outcome: EnqueueOutcome) => void;
  reject: (err: Error) => void;
}

export interface GroupCommitOptions {
  flushIntervalMs: number;
  flushMaxRecords: number;
  queueMaxRecords: number;
  /**
   * COPY text waiting or being written, in bytes (characters of string lines). Records
   * alone do not bound memory: 200 k records with long endpoints hold hundreds of MB. An
   * empty queue accepts any one batch. Default: no limit.
   */
  queueMaxBytes?: number;
  probeIntervalMs?: number;
  /**
   * Group commits that may run at once. Two keep both sides busy: while PostgreSQL
   * writes one group, the service parses and validates the next.
   */
  maxConcurrentFlushes?: number;
  /** How the rows' rollup deltas classify them (LATENCY_TARGET_MS, SLOW_QUERY_THRESHOLD_MS). */
  deltas: DeltaSettings;
}

export interface GroupCommitStats {
  flushes: number;
  /** Transactions attempted, splits of a refused group included. */
  transactions: number;
  flushFailures: number;
  recordsCommitted: number;
  lastFlushMs: number;
  flushDurationsMs: number[];
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03']);

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.code && (CONNECTION_ERROR_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  // Not "timeout exceeded when trying to connect": that is pg's pool waiting for one of
  // its own busy connections (isPoolExhausted), not a database outage.
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(e.message ?? '');
}

function linesBytes(lines: Lines): number {
  let bytes = 0;
  for (const kind of ['api', 'query', 'resource'] as const) {
    for (const piece of lines[kind]) bytes += typeof piece === 'string' ? piece.length : piece.byteLength;
  }
  return bytes;
}

export class GroupCommitQueue {
  private pending: PendingBatch[] = [];
  private pendingRecords = 0;
  private inFlightRecords = 0;
  private pendingBytes = 0;
  private inFlightBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Group commits in progress, each on its own connection. */
  private flushing = new Set<Promise<void>>();
  private closed = false;
  private unavailable: { since: number; reason: string } | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  readonly stats: GroupCommitStats = { flushes: 0, transactions: 0, flushFailures: 0, recordsCommitted: 0, lastFlushMs: 0, flushDurationsMs: [] };

  constructor(
    private readonly pool: Pool,
    private readonly options: GroupCommitOptions,
  ) {}

  get depth(): number {
    return this.pendingRecords + this.inFlightRecords;
  }

  /** Bytes of COPY text waiting or being written. */
  get depthBytes(): number {
    return this.pendingBytes + this.inFlightBytes;
  }

  get databaseAvailable(): boolean {
    return !this.unavailable;
  }

  /** Resolves once every line is committed; rejects with IngestRejected otherwise. */
  enqueue(lines: Lines, records?: number, options: EnqueueOptions = {}): Promise<EnqueueOutcome> {
    const count = records ?? lines.api.length + lines.query.length + lines.resource.length;
    if (count === 0 && !options.idempotency) return Promise.resolve({});
    if (this.closed) return Promise.reject(new IngestRejected(503, 'shutting_down', 'the service is shutting down; retry against another replica', 1));
    if (this.unavailable) {
      return Promise.reject(new IngestRejected(503, 'database_unavailable', `PostgreSQL is unreachable (${this.unavailable.reason}); nothing was stored, retry later`, 2));
    }
    if (this.depth + count > this.options.queueMaxRecords) {
      return Promise.reject(new IngestRejected(429, 'queue_full', `the ingest queue is full (${this.depth} records waiting); nothing was stored, retry later`, 1));
    }
    const bytes = linesBytes(lines);
    if (this.options.queueMaxBytes !== undefined && this.depthBytes > 0 && this.depthBytes + bytes > this.options.queueMaxBytes) {
      return Promise.reject(new IngestRejected(429, 'queue_full', `the ingest queue is full (${this.depthBytes} bytes waiting, at most ${this.options.queueMaxBytes}); nothing was stored, retry later`, 1));
    }
    return new Promise<EnqueueOutcome>((resolve, reject) => {
      this.pending.push({ lines, count, bytes, idempotency: options.idempotency, resolve, reject });
      this.pendingRecords += count;
      this.pendingBytes += bytes;
      if (this.pendingRecords >= this.options.flushMaxRecords) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.options.flushIntervalMs);
    });
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0 || this.flushing.size >= (this.options.maxConcurrentFlushes ?? 2)) return;
    const flush: Promise<void> = this.flushLoop().finally(() => {
      this.flushing.delete(flush);
      if (this.pending.length) {
        if (this.pendingRecords >= this.options.flushMaxRecords || this.closed) this.kick();
        else this.timer ??= setTimeout(() => this.kick(), this.options.flushIntervalMs);
      }
    });
    this.flushing.add(flush);
  }

  private async flushLoop(): Promise<void> {
    // Take what is waiting now; arrivals during this flush form the next group.
    const group = this.pending;
    this.pending = [];
    this.inFlightRecords += this.pendingRecords;
    this.inFlightBytes += this.pendingBytes;
    const groupRecords = this.pendingRecords;
    const groupBytes = this.pendingBytes;
    this.pendingRecords = 0;
    this.pendingBytes = 0;
    try {
      await this.commitGroup(group);
    } finally {
      this.inFlightRecords -= groupRecords;
      this.inFlightBytes -= groupBytes;
    }
  }

  private async commitGroup(group: PendingBatch[]): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      const replayed = await this.writeTransaction(group);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      this.stats.flushes++;
      this.stats.lastFlushMs = ms;
      this.stats.flushDurationsMs.push(ms);
      if (this.stats.flushDurationsMs.length > 1000) this.stats.flushDurationsMs.splice(0, 500);
      for (const batch of group) {
        const replay = replayed.get(batch);
        if (!replay) this.stats.recordsCommitted += batch.count;
        batch.resolve(replay ? { replayed: replay } : {});
      }
    } catch (err) {
      this.stats.flushFailures++;
      if (isPoolExhausted(err)) {
        const rejection = new IngestRejected(503, 'database_busy', 'every database connection of the ingest pool stayed busy; nothing of this batch was stored, retry shortly', 1);
        for (const batch of group) batch.reject(rejection);
        return;
      }
      if (isConnectionError(err)) {
        this.markUnavailable((err as Error).message);
        // Lost while COMMIT was under way, the transaction may have committed: say so,
        // and how to retry without storing the batch twice.
        const rejection = (err as { duringCommit?: boolean }).duringCommit
          ? new IngestRejected(503, 'commit_outcome_unknown', `the connection to PostgreSQL was lost during COMMIT (${(err as Error).message}); this batch may have been stored: retry with the same Idempotency-Key header (a retry without one may store it twice)`, 2)
          : new IngestRejected(503, 'database_unavailable', `PostgreSQL is unreachable (${(err as Error).message}); nothing of this batch was stored, retry later`, 2);
        for (const batch of group) batch.reject(rejection);
        return;
      }
      if (group.length > 1) {
        // One batch the database refuses must not sink the others. Halves are retried
        // until the refused batch is alone: one poisoned batch among n costs about
        // 2·log2(n) more transactions, where retrying one by one cost n, and a tenant
        // sending one per flush interval turned every group into n + 1 transactions.
        const half = Math.ceil(group.length / 2);
        await this.commitGroup(group.slice(0, half));
        await this.commitGroup(group.slice(half));
        return;
      }
      group[0]!.reject(new IngestRejected(500, 'storage_rejected', `PostgreSQL refused the batch (${(err as Error).message}); nothing of it was stored`));
    }
  }

  /** Writes the group in one transaction; returns the batches whose idempotency key was stored before. */
  private async writeTransaction(group: PendingBatch[]): Promise<Map<PendingBatch, { accepted: number; sampledOut: number }>> {
    let client: PoolClient | undefined;
    let broken = false;
    let committing = false;
    this.stats.transactions++;
    try {
      client = await this.pool.connect();
      await client.query('BEGIN');
      const replayed = await this.claimKeys(client, group);
      const merged: Lines = { api: [], query: [], resource: [] };
      for (const batch of group) {
        if (replayed.has(batch)) continue;
        for (const kind of ['api', 'query', 'resource'] as const) {
          const lines = batch.lines[kind];
          if (lines.length) merged[kind] = merged[kind].length ? merged[kind].concat(lines) : lines;
        }
      }
      await writeRecords(client, merged, this.options.deltas);
      committing = true;
      await client.query('COMMIT');
      return replayed;
    } catch (err) {
      broken = isConnectionError(err);
      if (client && !broken) await client.query('ROLLBACK').catch(() => undefined);
      if (broken && committing && err && typeof err === 'object') (err as { duringCommit?: boolean }).duringCommit = true;
      throw err;
    } finally {
      client?.release(broken ? true : undefined);
    }
  }

  /**
   * Stores the group's idempotency keys; a batch whose key is stored already, or was
   * claimed by an earlier batch of this group, is answered as a replay and not written.
   */
  private async claimKeys(client: PoolClient, group: PendingBatch[]): Promise<Map<PendingBatch, { accepted: number; sampledOut: number }>> {
    const replayed = new Map<PendingBatch, { accepted: number; sampledOut: number }>();
    const first = new Map<string, PendingBatch>();
    for (const batch of group) {
      if (!batch.idempotency) continue;
      const id = idempotencyClaimId(batch.idempotency);
      const earlier = first.get(id);
      if (earlier) replayed.set(batch, { accepted: earlier.idempotency!.accepted, sampledOut: earlier.idempotency!.sampledOut });
      else first.set(id, batch);
    }
    if (first.size === 0) return replayed;
    const stored = await claimIdempotencyKeys(client, [...first.values()].map((b) => b.idempotency!));
    for (const [id, counts] of stored) {
      replayed.set(first.get(id)!, counts);
      for (const batch of group) if (batch.idempotency && idempotencyClaimId(batch.idempotency) === id) replayed.set(batch, counts);
    }
    return replayed;
  }

  private markUnavailable(reason: string): void {
    if (this.unavailable) return;
    this.unavailable = { since: Date.now(), reason };
    const probe = async () => {
      try {
        await this.pool.query('SELECT 1');
        this.unavailable = undefined;
        this.probeTimer = undefined;
      } catch {
        this.probeTimer = setTimeout(probe, this.options.probeIntervalMs ?? 1000);
      }
    };
    this.probeTimer = setTimeout(probe, this.options.probeIntervalMs ?? 1000);
  }

  /** Stops accepting; flushes everything accepted so far. */
  async drain(): Promise<void> {
    this.closed = true;
    while (this.pending.length || this.flushing.size) {
      this.kick();
      await Promise.allSettled([...this.flushing]);
    }
    if (this.probeTimer) clearTimeout(this.probeTimer);
  }
}
