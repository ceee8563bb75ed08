// Drives a bot as Slack would: signed slash commands and block_actions posted to /slack/events.
import { createHmac } from 'node:crypto';
import type { SlackApiServer, SlackMessage } from '../servers/slack-api-server.ts';

export interface SignedResponse {
  status: number;
  body: string;
  json?: Record<string, unknown>;
  ms: number;
}

export class SlackDriver {
  private seq = 0;
  /** Unique per driver: trigger ids and response URLs must not repeat across drivers (Slack's never do). */
  private readonly tag = Math.random().toString(36).slice(2, 8);
  constructor(
    readonly botUrl: string,
    readonly signingSecret: string,
    readonly slack: SlackApiServer,
  ) {}

  sign(body: string, timestamp = Math.floor(Date.now() / 1000), secret = this.signingSecret): Record<string, string> {
    const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature };
  }

  async post(body: string, headers: Record<string, string> = this.sign(body)): Promise<SignedResponse> {
    const started = performance.now();
    const res = await fetch(`${this.botUrl}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
    const text = await res.text();
    const ms = performance.now() - started;
    let json: Record<string, unknown> | undefined;
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, body: text, json, ms };
  }

  commandBody(text: string, user: string, channel = 'C0INFRA'): string {
    const id = `cmd${this.tag}${++this.seq}`;
    return new URLSearchParams({
      token: 'legacy-token',
      team_id: 'T0TEAM',
      team_domain: 'test',
      channel_id: channel,
      channel_name: channel === 'C0INFRA' ? 'infrastructure' : 'other',
      user_id: user,
      user_name: user.toLowerCase(),
      command: '/scale',
      text,
      api_app_id: 'A0APP',
      response_url: `${this.slack.url}/response/${id}`,
      trigger_id: `trigger.${id}`,
    }).toString();
  }

  /** Sends `/scale <text>` and waits for the answer sent to response_url (when there is one). */
  async command(text: string, user: string, channel = 'C0INFRA'): Promise<SignedResponse & { responseId: string }> {
    const body = this.commandBody(text, user, channel);
    const responseId = new URLSearchParams(body).get('response_url')!.split('/').pop()!;
    const res = await this.post(body);
    return { ...res, responseId };
  }

  async waitForResponse(responseId: string, timeoutMs = 10_000): Promise<string> {
    const found = await waitFor(() => this.slack.responses.find((r) => r.id === responseId), timeoutMs, `response_url answer ${responseId}`);
    return String(found.body.text ?? '');
  }

  /** The bot's reply to a command: the ack's text if it refused at once, else the response_url answer. */
  async ask(text: string, user: string, channel = 'C0INFRA'): Promise<{ reply: string; ackMs: number; status: number }> {
    const res = await this.command(text, user, channel);
    if (res.status !== 200) return { reply: res.body, ackMs: res.ms, status: res.status };
    const acked = res.json?.text;
    const reply = typeof acked === 'string' ? acked : await this.waitForResponse(res.responseId);
    return { reply, ackMs: res.ms, status: res.status };
  }

  actionPayload(message: SlackMessage, action: Record<string, unknown>, user: string): Record<string, unknown> {
    return {
      type: 'block_actions',
      team: { id: 'T0TEAM', domain: 'test' },
      user: { id: user, username: user.toLowerCase(), team_id: 'T0TEAM' },
      api_app_id: 'A0APP',
      token: 'legacy-token',
      container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
      trigger_id: `trigger.${this.tag}.${++this.seq}`,
      channel: { id: message.channel, name: 'infrastructure' },
      message: { type: 'message', ts: message.ts, text: message.text, blocks: message.blocks, user: 'U0BOT' },
      response_url: `${this.slack.url}/response/act${this.tag}${this.seq}`,
      // Slack's action_ts has microseconds, so two clicks never share one (the bot dedupes on it):
      // milliseconds plus this driver's sequence stand in for them.
      actions: [{ action_ts: `${(Date.now() / 1000).toFixed(3)}${String(this.seq % 1000).padStart(3, '0')}`, ...action }],
    };
  }

  async sendPayload(payload: Record<string, unknown>, headers?: Record<string, string>): Promise<SignedResponse> {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return this.post(body, headers ?? this.sign(body));
  }

  /** Presses a button of the card as it is now (e.g. intent "approve"). */
  async press(card: SlackMessage, intent: string, user: string): Promise<SignedResponse> {
    const button = findElement(card, (e) => e.type === 'button' && e.action_id === `scalebot_${intent}`);
    if (!button) throw new Error(`the card has no ${intent} button; it has: ${buttonsOf(card).join(', ') || 'none'}`);
    const block = (card.blocks ?? []).find((b) => ((b.elements as unknown[]) ?? []).includes(button));
    return this.sendPayload(this.actionPayload(card, { type: 'button', action_id: button.action_id, block_id: block?.block_id, value: button.value, text: button.text }, user));
  }

  /** Ticks the given checklist items (and keeps those already ticked). */
  async tick(card: SlackMessage, stepIds: string[], user: string): Promise<SignedResponse> {
    const block = (card.blocks ?? []).find((b) => String(b.block_id ?? '').startsWith('tick|'));
    if (!block) throw new Error('the card has no open checklist');
    const element = (block.elements as Record<string, unknown>[])[0]!;
    const options = element.options as { value: string; text: unknown }[];
    const already = ((element.initial_options as { value: string }[] | undefined) ?? []).map((o) => o.value);
    const selected = options.filter((o) => stepIds.includes(o.value) || already.includes(o.value));
    return this.sendPayload(this.actionPayload(card, { type: 'checkboxes', action_id: element.action_id, block_id: block.block_id, selected_options: selected }, user));
  }
}

type Element = Record<string, unknown> & { type?: string; action_id?: string; value?: string; text?: unknown };

export function findElement(card: SlackMessage, pred: (e: Element) => boolean): Element | undefined {
  for (const block of card.blocks ?? []) {
    for (const e of (block.elements as Element[] | undefined) ?? []) if (pred(e)) return e;
  }
  return undefined;
}

export function buttonsOf(card: SlackMessage): string[] {
  const out: string[] = [];
  for (const block of card.blocks ?? []) for (const e of (block.elements as Element[] | undefined) ?? []) if (e.type === 'button') out.push(String(e.action_id).replace('scalebot_', ''));
  return out;
}

/** All visible text of a card, for assertions. */
export function cardText(card: SlackMessage | undefined): string {
  return JSON.stringify(card?.blocks ?? []);
}

export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The run card of `runId` in a channel (the top-level message whose blocks name the run). */
export function findCard(slack: SlackApiServer, runId: string, channel = 'C0INFRA'): SlackMessage {
  const found = slack.channelMessages(channel).find((m) => m.blocks && cardText(m).includes(runId));
  if (!found) throw new Error(`no card for ${runId}`);
  return found;
}

/** Waits until the run's card shows `text`. */
export function cardShows(slack: SlackApiServer, runId: string, text: string, timeoutMs = 10_000, channel = 'C0INFRA'): Promise<SlackMessage> {
  return waitFor(() => {
    const c = slack.channelMessages(channel).find((m) => m.blocks && cardText(m).includes(runId));
    return c && cardText(c).includes(text) ? c : undefined;
  }, timeoutMs, `card ${runId} to show "${text}"`);
}
