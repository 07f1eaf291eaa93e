// Backfill (history, fast, with progress) and live traffic (every second, until stopped).
// The backfill goes through the JSON ingest endpoints, the live traffic through OTLP, as
// an OpenTelemetry-instrumented application sends it: every run exercises both.
import { sendOverOtlp } from './otlpSender';
import { generateTraffic, seededRandom } from './traffic';
import { progress, sendRecords, type SenderOptions } from './sender';

const CHUNK_MS = 10 * 60_000;

/** Sends `hours` of history, ten minutes a request; an aborted `signal` stops it between requests. */
export async function backfill(
  options: SenderOptions,
  { hours, rate, seed = 42, quiet = false, signal }: { hours: number; rate: number; seed?: number; quiet?: boolean; signal?: AbortSignal },
): Promise<number> {
  const rng = seededRandom(seed);
  const end = Date.now();
  const start = end - hours * 3_600_000;
  let sent = 0;
  const chunks = Math.ceil((end - start) / CHUNK_MS);
  for (let c = 0; c < chunks && !signal?.aborted; c++) {
    const from = start + c * CHUNK_MS;
    const to = Math.min(end, from + CHUNK_MS);
    sent += await sendRecords(options, generateTraffic(from, to, rate, rng, `backfill${c}`));
    if (!quiet) progress(`backfill ${hours} h`, c + 1, chunks);
  }
  return sent;
}

/** Sends each second's traffic until the signal aborts; resolves to the records sent. */
export async function live(options: SenderOptions, { rate, signal, onError }: { rate: number; signal: AbortSignal; onError?: (err: Error) => void }): Promise<number> {
  const rng = seededRandom(Date.now() % 2147483647);
  let sent = 0;
  let from = Date.now();
  while (!signal.aborted) {
    await new Promise<void>((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, 1000);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    const to = Date.now();
    try {
      sent += await sendOverOtlp(options, generateTraffic(from, to, rate, rng, 'live'));
    } catch (err) {
      if (signal.aborted) break;
      onError?.(err as Error);
    }
    from = to;
  }
  return sent;
}
