// Who may approve, and the answers people get when they may not.
import type { Actor } from './events.ts';
import type { Approval, Run } from './run.ts';
import { describeStatus, reply, type Result } from './common.ts';
import { list, mentionAny, plain } from './text.ts';

export function finished(run: Run, user: string): Result {
  return reply(run, user, `Run ${run.id} is ${describeStatus(run)}; nothing was changed by this click.`);
}

export function approverHint(run: Run): string {
  const approvers = run.service.approvals.approvers.filter((a) => a !== run.request.requester);
  return approvers.length ? `Approvers for ${plain(run.service.name)}: ${list(approvers.map(mentionAny))}.` : `No approvers are configured for ${plain(run.service.name)} in the catalog.`;
}

/** Why this person may not approve (or approve a rollback of) this run; undefined when they may. */
export function approvalRefusal(run: Run, actor: Actor, given: Approval[], what: string): string | undefined {
  if (actor.user === run.request.requester) {
    return `You requested run ${run.id}, so you cannot approve ${what}: a second person must. ${approverHint(run)}`;
  }
  if (!actor.approver) return `You are not an approver for ${plain(run.service.name)}. ${approverHint(run)}`;
  if (given.some((a) => a.user === actor.user)) return `You have already approved ${what}.`;
  return undefined;
}
