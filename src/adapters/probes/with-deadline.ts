// Bounds a measurement by a time budget and the caller's abort signal. The work gets a signal that
// fires on either, and should close its connections on it; the returned promise settles on time
// even when a driver ignores the signal.
import { Unmeasurable } from '../../ports/probe.port.ts';
import { formatDuration } from '../../workflows/duration.ts';

/** Drivers' own timeouts are set this much later than the deadline, so its clearer message wins. */
export const DRIVER_TIMEOUT_SLACK_MS = 250;

export async function withDeadline<T>(timeoutMs: number, outer: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(outer?.reason instanceof Unmeasurable ? outer.reason : new Unmeasurable('the measurement was cancelled'));
  if (outer?.aborted) onOuterAbort();
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new Unmeasurable(`no answer within ${formatDuration(timeoutMs)}`)), timeoutMs);
  const stopped = new Promise<never>((_, reject) => {
    const fail = () => reject(controller.signal.reason);
    if (controller.signal.aborted) fail();
    else controller.signal.addEventListener('abort', fail, { once: true });
  });
  try {
    const running = controller.signal.aborted ? stopped : work(controller.signal);
    // Whichever loses the race must not become an unhandled rejection.
    running.catch(() => undefined);
    stopped.catch(() => undefined);
    return await Promise.race([running, stopped]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
    // Tell the work to stop (and close what it opened) however the race ended.
    if (!controller.signal.aborted) controller.abort(new Unmeasurable('the measurement ended'));
  }
}

/** Waits for `promise` to settle, but no longer than `ms` (for goodbyes a dead server never answers). */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([promise.catch(() => undefined), late]);
  clearTimeout(timer);
}
