// Time is injected so tests never sleep through a runbook's real waits.
export interface Clock {
  now(): number;
  /** Calls `fn` at (or soon after) `at`; returns a cancel function. */
  at(at: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  at(at, fn) {
    // setTimeout overflows past ~24.8 days; re-arm in chunks.
    const MAX = 2 ** 31 - 1;
    let timer: NodeJS.Timeout;
    const arm = () => {
      const wait = at - Date.now();
      timer = setTimeout(wait > MAX ? arm : fn, Math.max(0, Math.min(wait, MAX)));
      timer.unref?.();
    };
    arm();
    return () => clearTimeout(timer);
  },
};
