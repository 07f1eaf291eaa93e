// Worker threads that decode and map large trace export requests, so they use every
// core and never block the main thread, as the JSON endpoints' IngestWorkers
// (src/ingest/ingestWorkers.ts) do for their bodies; the same INGEST_WORKERS sets how
// many. Small requests are prepared inline: a round trip to a worker costs more.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ApiError } from '../http/errors';
import { prepareTraces, type TraceInput } from './prepare';
import type { MappedSpans } from './traces';

const INLINE_BELOW_BYTES = 64 * 1024;

interface Slot {
  worker: Worker;
  busy: number;
}

type Reply = { id: number; ok: true; mapped: MappedSpans } | { id: number; ok: false; error: { status: number; code: string; message: string; details?: unknown } };

export class TraceWorkers {
  private slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  private waiting = new Map<number, { resolve: (m: MappedSpans) => void; reject: (e: Error) => void; slot: Slot }>();

  constructor(count: number) {
    for (let i = 0; i < count; i++) this.spawn();
  }

  private spawn(): void {
    const worker = new Worker(path.join(__dirname, 'traceWorker.cjs'));
    const slot: Slot = { worker, busy: 0 };
    worker.on('message', (message: Reply) => {
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      waiter.slot.busy--;
      if (message.ok) waiter.resolve(message.mapped);
      else waiter.reject(new ApiError(message.error.status, message.error.code, message.error.message, message.error.details));
    });
    worker.on('error', (err) => this.replace(slot, err));
    worker.on('exit', (code) => {
      if (code !== 0) this.replace(slot, new Error(`trace worker exited with code ${code}`));
    });
    worker.unref();
    this.slots.push(slot);
  }

  /** A crashed worker fails only the requests it held; a fresh one takes its place. */
  private replace(slot: Slot, err: Error): void {
    if (this.closed) return;
    const at = this.slots.indexOf(slot);
    if (at < 0) return;
    this.slots.splice(at, 1);
    for (const [id, waiter] of this.waiting) {
      if (waiter.slot !== slot) continue;
      this.waiting.delete(id);
      waiter.reject(new ApiError(500, 'internal_error', `preparing the spans failed: ${err.message}; nothing was stored`));
    }
    this.spawn();
  }

  prepare(input: TraceInput): Promise<MappedSpans> {
    if (this.slots.length === 0 || input.body.byteLength < INLINE_BELOW_BYTES) {
      try {
        return Promise.resolve(prepareTraces(input));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const slot = this.slots.reduce((best, s) => (s.busy < best.busy ? s : best));
    const id = this.nextId++;
    slot.busy++;
    return new Promise<MappedSpans>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, slot });
      slot.worker.postMessage({ id, input });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
