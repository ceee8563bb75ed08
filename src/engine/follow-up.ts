// After a verified scale-up, the way back down: "Schedule scale-down" on the card opens a
// scale-down run (guard checks, approvals, gradual steps) after the service's delay. The scale-up
// run is finished; this only records the schedule and, when it is due, asks for the new run.
import type { Actor, RunEvent } from './events.ts';
import type { Run } from './run.ts';
import { reply, same, type Result } from './common.ts';
import { mention, plain } from './text.ts';
import { formatDuration } from '../workflows/duration.ts';

export const SCALE_DOWN_TIMER = 'scale-down';
const DEFAULT_DELAY_MS = 2 * 3_600_000;

/** Whether the card offers "Schedule scale-down": a verified change that raised capacity. */
export function canScheduleScaleDown(run: Run): boolean {
  const before = run.before ?? run.plan?.before;
  const raised = before !== undefined && run.after !== undefined && (run.after.hpa?.minReplicas ?? run.after.replicas) > (before.hpa?.minReplicas ?? before.replicas);
  return run.status === 'succeeded' && run.runbook.direction !== 'down' && raised && !run.request.dryRun;
}

const at = (ms: number) => `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${new Date(ms).toISOString()}>`;

export function onScheduleScaleDown(run: Run, actor: Actor, now: number): Result {
  if (!canScheduleScaleDown(run)) return reply(run, actor.user, `Run ${run.id} has no verified scale-up to walk back, so there is nothing to schedule.`);
  if (actor.user !== run.request.requester && !actor.approver) {
    return reply(run, actor.user, `Only the requester (${mention(run.request.requester)}) or an approver can schedule the scale-down of run ${run.id}.`);
  }
  if (run.scaleDown?.state === 'scheduled') return reply(run, actor.user, `A scale-down is already scheduled for ${at(run.scaleDown.at)} by ${mention(run.scaleDown.by)}.`);
  if (run.scaleDown?.state === 'opened') return reply(run, actor.user, `The scale-down was already opened as run ${run.scaleDown.runId}.`);
  const delay = run.service.scaleDownAfterMs ?? DEFAULT_DELAY_MS;
  const when = now + delay;
  return same(
    { ...run, scaleDown: { at: when, by: actor.user, state: 'scheduled' } },
    { type: 'note', text: `:calendar: ${mention(actor.user)} scheduled a scale-down of ${plain(run.service.name)} to its baseline (${run.service.limits.baseline}): a scale-down run opens ${at(when)} (in ${formatDuration(delay)}), with its guard checks, approvals and gradual steps.` },
    { type: 'audit', record: { type: 'scale-down-scheduled', user: actor.user, detail: new Date(when).toISOString() } },
    { type: 'schedule', at: when, name: SCALE_DOWN_TIMER },
  );
}

export function onCancelScaleDown(run: Run, actor: Actor): Result {
  if (run.scaleDown?.state !== 'scheduled') return reply(run, actor.user, `No scale-down is scheduled for run ${run.id}.`);
  if (actor.user !== run.scaleDown.by && actor.user !== run.request.requester && !actor.approver) {
    return reply(run, actor.user, `Only ${mention(run.scaleDown.by)}, the requester or an approver can cancel this scheduled scale-down.`);
  }
  return same(
    { ...run, scaleDown: { ...run.scaleDown, state: 'cancelled', changedBy: actor.user } },
    { type: 'note', text: `:heavy_multiplication_x: ${mention(actor.user)} cancelled the scheduled scale-down.` },
    { type: 'audit', record: { type: 'scale-down-cancelled', user: actor.user } },
  );
}

/** The scale-down is due: ask for the run (once; a late or repeated timer does nothing). */
export function onScaleDownDue(run: Run, now: number): Result {
  const plan = run.scaleDown;
  if (plan?.state !== 'scheduled') return same(run);
  if (now < plan.at) return same(run, { type: 'schedule', at: plan.at, name: SCALE_DOWN_TIMER });
  return same({ ...run, scaleDown: { ...plan, state: 'opened' } }, { type: 'open-scale-down', requester: plan.by });
}

export function onScaleDownOpened(run: Run, event: Extract<RunEvent, { type: 'scale-down-opened' }>): Result {
  if (run.scaleDown?.state !== 'opened' || run.scaleDown.runId || run.scaleDown.detail) return same(run);
  if (event.runId) {
    return same({ ...run, scaleDown: { ...run.scaleDown, runId: event.runId } }, { type: 'note', text: `:arrow_down: The scheduled scale-down opened as run ${event.runId}.` });
  }
  const detail = event.error ?? 'unknown error';
  return same(
    { ...run, scaleDown: { ...run.scaleDown, state: 'failed', detail } },
    { type: 'note', text: `:warning: The scheduled scale-down could not be opened: ${plain(detail)}. Request it with /scale down ${plain(run.service.name)}.` },
    { type: 'announce', text: `:warning: The scheduled scale-down of *${plain(run.service.name)}* (after run ${run.id}) could not be opened: ${plain(detail)}. ${mention(run.scaleDown.by)}, request it with /scale down ${plain(run.service.name)}.` },
  );
}
