// What the runner needs from a chat platform. The Slack adapter implements it with Bolt's WebClient;
// nothing here mentions Block Kit.
import type { CardView } from '../engine/card-view.ts';

export interface MessageRef {
  channel: string;
  ts: string;
}

export interface ChatPort {
  postCard(channel: string, card: CardView): Promise<MessageRef>;
  updateCard(ref: MessageRef, card: CardView): Promise<void>;
  postThread(ref: MessageRef, text: string): Promise<void>;
  postChannel(channel: string, text: string): Promise<void>;
  postEphemeral(channel: string, user: string, text: string): Promise<void>;
  permalink(ref: MessageRef): Promise<string | undefined>;
  /** Members of a user group (cached by the adapter). */
  userGroupMembers(groupId: string): Promise<string[]>;
}
