// SIGINT and SIGTERM: the first asks for an orderly shutdown, a second one ends the
// process at once.
//
// A terminal's Ctrl-C goes to every process of its foreground group, and npm passes the
// signals it receives on to its child, so under `npm start` one keypress arrives here
// once from the terminal and again from each npm in between, all within a moment.
// Signals within REPEAT_MS of the first are therefore that same request; a signal after
// that is a second Ctrl-C.
import { stopEmbeddedServersNow } from '../db/embedded';

export const REPEAT_MS = 1000;

export interface ShutdownRequest {
  /** The first signal received, once one has arrived. */
  readonly signal: NodeJS.Signals | undefined;
  /** Resolves with the first signal. */
  readonly requested: Promise<NodeJS.Signals>;
  /** Aborted at the first signal. */
  readonly abortSignal: AbortSignal;
}

let current: ShutdownRequest | undefined;

/** Starts listening (once per process); returns the process's shutdown request. */
export function listenForShutdown(): ShutdownRequest {
  if (current) return current;
  const controller = new AbortController();
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  let resolveRequested: (signal: NodeJS.Signals) => void = () => undefined;
  const requested = new Promise<NodeJS.Signals>((resolve) => (resolveRequested = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (!first) {
      first = { signal, at: now };
      controller.abort();
      resolveRequested(signal);
      return;
    }
    if (now - first.at < REPEAT_MS) return;
    // A second request: stop the embedded database without waiting, and end this process
    // by the signal itself, so that a parent (npm, a shell) sees how it ended.
    process.stderr.write(`${signal} again: exiting at once\n`);
    stopEmbeddedServersNow();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.kill(process.pid, signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  current = {
    get signal() {
      return first?.signal;
    },
    requested,
    abortSignal: controller.signal,
  };
  return current;
}

export function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return listenForShutdown().requested;
}
