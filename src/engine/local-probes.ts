// Checks the engine answers itself from the request, the catalog and the time, with no I/O.
import type { ProbeResult, Run } from './run.ts';

type RunView = Pick<Run, 'request' | 'service' | 'runbook' | 'target'>;

export function evaluateLocalProbe(probe: string, run: RunView, now: number): ProbeResult | undefined {
  if (probe === 'request.limits') return limits(run, now);
  if (probe === 'catalog.peak-window') return peakWindow(run, now);
  return undefined;
}

function limits(run: RunView, now: number): ProbeResult {
  const { min, max, baseline } = run.service.limits;
  const replicas = run.target;
  const source = 'service catalog';
  if (replicas === undefined) {
    return { ok: undefined, summary: 'the target replicas are not known yet', source, at: now };
  }
  const values = { replicas, min, max, baseline };
  if (run.runbook.direction === 'down' && replicas < baseline) {
    return { ok: false, summary: `${replicas} is below the baseline ${baseline}; scale-downs stop at the baseline`, value: replicas, threshold: `≥ ${baseline}`, values, source, at: now };
  }
  const ok = replicas >= min && replicas <= max;
  return {
    ok,
    summary: ok ? `${replicas} is within the limits ${min}..${max}` : `${replicas} is outside the limits ${min}..${max}`,
    value: replicas,
    threshold: `${min}..${max}`,
    values,
    source,
    at: now,
  };
}

/** Weekday and minutes since midnight at `now` in a time zone. */
function localTime(now: number, tz: string): { day: string; minutes: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(now));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '0';
  return { day: get('weekday').slice(0, 3).toLowerCase(), minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether now is inside a peak window: the run is refused (a "do not scale down" condition). */
function peakWindow(run: RunView, now: number): ProbeResult {
  const windows = run.service.peakWindows ?? [];
  const source = 'service catalog (peak-windows)';
  for (const w of windows) {
    let local: { day: string; minutes: number };
    try {
      local = localTime(now, w.tz);
    } catch {
      return { ok: undefined, summary: `unknown time zone "${w.tz}" in the catalog's peak-windows`, source, at: now };
    }
    const from = minutesOf(w.from);
    const to = minutesOf(w.to);
    const inside = w.days.includes(local.day) && (from <= to ? local.minutes >= from && local.minutes < to : local.minutes >= from || local.minutes < to);
    if (inside) {
      const days = w.days.length === 7 ? 'every day' : w.days.join(', ');
      return {
        ok: false,
        summary: `inside the peak window ${days} ${w.from}–${w.to} ${w.tz}${w.reason ? ` (${w.reason})` : ''}`,
        values: { in_peak: 1 },
        source,
        at: now,
      };
    }
  }
  return { ok: true, summary: windows.length ? 'outside every peak window' : 'no peak windows are declared for this service', values: { in_peak: 0 }, source, at: now };
}
