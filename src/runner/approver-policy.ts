// Who may approve: user IDs, or user-group IDs expanded through the chat platform (cached).
import type { ChatPort } from '../ports/chat.port.ts';

const TTL_MS = 5 * 60_000;
const STALE_GRACE_MS = 2 * TTL_MS;

export class ApproverPolicy {
  private readonly groups = new Map<string, { members: Set<string>; at: number }>();

  constructor(
    private readonly chat: Pick<ChatPort, 'userGroupMembers'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when `user` is listed, or is a member of a listed user group. */
  async isApprover(approvers: string[], user: string): Promise<boolean> {
    if (approvers.includes(user)) return true;
    for (const id of approvers) {
      if (!id.startsWith('S')) continue;
      if ((await this.members(id)).has(user)) return true;
    }
    return false;
  }

  /** Which of these restricted ids lists include the user. */
  async allowed(lists: { id: string; who: string[] }[], user: string): Promise<string[]> {
    const out: string[] = [];
    for (const { id, who } of lists) if (await this.isApprover(who, user)) out.push(id);
    return out;
  }

  private async members(groupId: string): Promise<Set<string>> {
    const cached = this.groups.get(groupId);
    if (cached && this.now() - cached.at < TTL_MS) return cached.members;
    try {
      const members = new Set(await this.chat.userGroupMembers(groupId));
      this.groups.set(groupId, { members, at: this.now() });
      return members;
    } catch {
      // A brief directory outage may use a recent answer; beyond that, nobody from the group may
      // approve (a removed member must not keep approving while lookups fail).
      if (cached && this.now() - cached.at < STALE_GRACE_MS) return cached.members;
      return new Set();
    }
  }
}
