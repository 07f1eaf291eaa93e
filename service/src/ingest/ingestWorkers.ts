// A small pool of worker threads that prepare ingest batches, so parsing and validating
// large bodies uses every core and never blocks the main thread (which keeps accepting
// requests and feeding COPY). Small bodies are prepared inline: a round trip to a worker
// costs more than they do. A gzip body always goes to a worker: its compressed size says
// little about the work (10 KB can inflate to tens of thousands of records).
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ApiError } from '../http/errors';
import { prepareBatch, type PrepareInput } from './prepareBatch';

export interface Prepared {
  copy: string | Uint8Array;
  kept: number;
  sampledOut: number;
  received: number;
}

const INLINE_BELOW_BYTES = 64 * 1024;

/** Any Content-Encoding but identity: decodeBody inflates it, or refuses it with 415. */
function isCompressed(contentEncoding: string | undefined): boolean {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  return encoding !== '' && encoding !== 'identity';
}

interface Slot {
  worker: Worker;
  busy: number;
}

export class IngestWorkers {
  private slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  /** Batches prepared on the main thread and in workers. */
  readonly stats = { inline: 0, inWorker: 0 };
  private waiting = new Map<number, { resolve: (p: Prepared) => void; reject: (e: Error) => void; slot: Slot }>();

  constructor(count: number) {
    for (let i = 0; i < count; i++) this.spawn();
  }

  private spawn(): Slot {
    const worker = new Worker(path.join(__dirname, 'ingestWorker.cjs'));
    const slot: Slot = { worker, busy: 0 };
    worker.on('message', (message: { id: number; ok: boolean; copy?: Uint8Array; kept?: number; sampledOut?: number; received?: number; error?: { status: number; code: string; message: string; details?: unknown } }) => {
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      waiter.slot.busy--;
      if (message.ok) waiter.resolve({ copy: message.copy!, kept: message.kept!, sampledOut: message.sampledOut!, received: message.received! });
      else waiter.reject(new ApiError(message.error!.status, message.error!.code, message.error!.message, message.error!.details));
    });
    worker.on('error', (err) => this.replace(slot, err));
    worker.on('exit', (code) => {
      if (code !== 0) this.replace(slot, new Error(`ingest worker exited with code ${code}`));
    });
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  /** A crashed worker fails only the batches it held; a fresh one takes its place. */
  private replace(slot: Slot, err: Error): void {
    if (this.closed) return;
    const at = this.slots.indexOf(slot);
    if (at < 0) return;
    this.slots.splice(at, 1);
    for (const [id, waiter] of this.waiting) {
      if (waiter.slot === slot) {
        this.waiting.delete(id);
        waiter.reject(new ApiError(500, 'internal_error', `preparing the batch failed: ${err.message}; nothing was stored`));
      }
    }
    this.spawn();
  }

  prepare(input: PrepareInput): Promise<Prepared> {
    if (this.slots.length === 0 || (input.body.byteLength < INLINE_BELOW_BYTES && !isCompressed(input.contentEncoding))) {
      this.stats.inline++;
      try {
        return Promise.resolve(prepareBatch(input));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    this.stats.inWorker++;
    const slot = this.slots.reduce((best, s) => (s.busy < best.busy ? s : best));
    const id = this.nextId++;
    slot.busy++;
    return new Promise<Prepared>((resolve, reject) => {
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
