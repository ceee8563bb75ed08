// The chat port over Slack's Web API (Bolt's WebClient). Block Kit stays in this folder.
import type { App } from '@slack/bolt';
import type { CardView } from '../../engine/card-view.ts';
import type { ChatPort, MessageRef } from '../../ports/chat.port.ts';
import { cardFallback, renderCard } from './render-card.ts';

type WebClient = App['client'];

export class SlackChat implements ChatPort {
  private readonly permalinks = new Map<string, string>();

  constructor(
    private readonly client: WebClient,
    private readonly onError: (method: string, error: string) => void = () => undefined,
  ) {}

  /** Counts a failed call (for metrics) and rethrows it. */
  private async counted<T>(method: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const code = (error as { data?: { error?: string }; code?: string }).data?.error ?? (error as { code?: string }).code ?? 'unknown';
      this.onError(method, code);
      throw error;
    }
  }

  async postCard(channel: string, card: CardView): Promise<MessageRef> {
    const res = await this.counted('chat.postMessage', () => this.client.chat.postMessage({ channel, text: cardFallback(card), blocks: renderCard(card), unfurl_links: false, unfurl_media: false }));
    if (!res.channel || !res.ts) throw new Error('Slack did not return the posted message');
    return { channel: res.channel, ts: res.ts };
  }

  async updateCard(ref: MessageRef, card: CardView): Promise<void> {
    await this.counted('chat.update', () => this.client.chat.update({ channel: ref.channel, ts: ref.ts, text: cardFallback(card), blocks: renderCard(card) }));
  }

  async postThread(ref: MessageRef, text: string): Promise<void> {
    await this.counted('chat.postMessage', () => this.client.chat.postMessage({ channel: ref.channel, thread_ts: ref.ts, text, unfurl_links: false, unfurl_media: false }));
  }

  async postChannel(channel: string, text: string): Promise<void> {
    await this.counted('chat.postMessage', () => this.client.chat.postMessage({ channel, text, unfurl_links: false, unfurl_media: false }));
  }

  async postEphemeral(channel: string, user: string, text: string): Promise<void> {
    await this.counted('chat.postEphemeral', () => this.client.chat.postEphemeral({ channel, user, text }));
  }

  async permalink(ref: MessageRef): Promise<string | undefined> {
    const key = `${ref.channel}/${ref.ts}`;
    const cached = this.permalinks.get(key);
    if (cached) return cached;
    const res = await this.counted('chat.getPermalink', () => this.client.chat.getPermalink({ channel: ref.channel, message_ts: ref.ts }));
    if (res.permalink) this.permalinks.set(key, res.permalink);
    return res.permalink;
  }

  async userGroupMembers(groupId: string): Promise<string[]> {
    const res = await this.counted('usergroups.users.list', () => this.client.usergroups.users.list({ usergroup: groupId }));
    return res.users ?? [];
  }
}
