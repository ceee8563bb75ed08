// The chat port over Slack's Web API (Bolt's WebClient). Block Kit stays in this folder.
import type { App } from '@slack/bolt';
import type { CardView } from '../../engine/card-view.ts';
import type { ChatPort, MessageRef } from '../../ports/chat.port.ts';
import { cardFallback, renderCard } from './render-card.ts';

type WebClient = App['client'];

export class SlackChat implements ChatPort {
  private readonly permalinks = new Map<string, string>();

  constructor(private readonly client: WebClient) {}

  async postCard(channel: string, card: CardView): Promise<MessageRef> {
    const res = await this.client.chat.postMessage({ channel, text: cardFallback(card), blocks: renderCard(card), unfurl_links: false, unfurl_media: false });
    if (!res.channel || !res.ts) throw new Error('Slack did not return the posted message');
    return { channel: res.channel, ts: res.ts };
  }

  async updateCard(ref: MessageRef, card: CardView): Promise<void> {
    await this.client.chat.update({ channel: ref.channel, ts: ref.ts, text: cardFallback(card), blocks: renderCard(card) });
  }

  async postThread(ref: MessageRef, text: string): Promise<void> {
    await this.client.chat.postMessage({ channel: ref.channel, thread_ts: ref.ts, text, unfurl_links: false, unfurl_media: false });
  }

  async postChannel(channel: string, text: string): Promise<void> {
    await this.client.chat.postMessage({ channel, text, unfurl_links: false, unfurl_media: false });
  }

  async postEphemeral(channel: string, user: string, text: string): Promise<void> {
    await this.client.chat.postEphemeral({ channel, user, text });
  }

  async permalink(ref: MessageRef): Promise<string | undefined> {
    const key = `${ref.channel}/${ref.ts}`;
    const cached = this.permalinks.get(key);
    if (cached) return cached;
    const res = await this.client.chat.getPermalink({ channel: ref.channel, message_ts: ref.ts });
    if (res.permalink) this.permalinks.set(key, res.permalink);
    return res.permalink;
  }

  async userGroupMembers(groupId: string): Promise<string[]> {
    const res = await this.client.usergroups.users.list({ usergroup: groupId });
    return res.users ?? [];
  }
}
