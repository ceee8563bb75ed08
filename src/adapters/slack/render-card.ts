// Renders the neutral card model to Block Kit. Golden-file tested (test/unit/render-card.test.ts).
import type { CardItem, CardPhase, CardView, Tone } from '../../engine/card-view.ts';
import type { StepStatus } from '../../engine/run.ts';
import { checklistBlockId, encodeButtonValue } from './button-value.ts';

// Block Kit types kept local and minimal: only what this card uses.
export type Block = { type: string; block_id?: string } & Record<string, unknown>;

export const ACTION_PREFIX = 'scalebot_';
export const TICK_ACTION = 'scalebot_tick';

const TONE_ICON: Record<Tone, string> = {
  progress: ':large_blue_circle:',
  waiting: ':large_yellow_circle:',
  success: ':large_green_circle:',
  failure: ':red_circle:',
  neutral: ':white_circle:',
};

const STEP_ICON: Record<StepStatus, string> = {
  pending: ':white_large_square:',
  running: ':hourglass_flowing_sand:',
  passed: ':white_check_mark:',
  warned: ':warning:',
  failed: ':x:',
  unmeasured: ':grey_question:',
  done: ':white_check_mark:',
  skipped: ':heavy_minus_sign:',
};

const MAX_SECTION = 2900;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function mrkdwn(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text, MAX_SECTION) } };
}

/** Whole lines packed into sections of at most MAX_SECTION characters, the heading on the first. */
export function packSections(heading: string, lines: string[]): string[] {
  const sections: string[] = [];
  let current = heading;
  for (const raw of lines) {
    const line = clip(raw, MAX_SECTION - 20);
    if (current.length + 1 + line.length > MAX_SECTION) {
      sections.push(current);
      current = line;
    } else {
      current = `${current}\n${line}`;
    }
  }
  sections.push(current);
  return sections;
}

function itemLine(item: CardItem): string {
  const lines = [`${STEP_ICON[item.state]} *${item.title}*${item.detail ? ` — ${item.detail}` : ''}`];
  for (const line of item.lines ?? []) lines.push(`      • ${line}`);
  return lines.join('\n');
}

function phaseBlocks(card: CardView, phase: CardPhase): Block[] {
  const blocks: Block[] = [];
  const lines = phase.items.map(itemLine);
  if (phase.checklist && !phase.checklist.open) {
    for (const o of phase.checklist.options) lines.push(`${o.ticked ? ':ballot_box_with_check:' : ':white_large_square:'} ${o.title}${o.by ? ` — <@${o.by}>` : ''}`);
  }
  // A section holds at most 3000 characters: a long phase (14 checks with evidence) continues in
  // further sections rather than losing its last items.
  for (const text of packSections(`*${phase.title}*`, lines.length ? lines : ['_nothing to do_'])) blocks.push(mrkdwn(text));
  if (phase.checklist?.open) {
    const options = phase.checklist.options;
    for (let i = 0; i < options.length; i += 10) {
      const chunk = options.slice(i, i + 10).map((o) => ({
        text: { type: 'mrkdwn', text: clip(`${o.title}${o.by ? ` — ticked by <@${o.by}>` : ''}`, 150) },
        value: o.id,
      }));
      const ticked = chunk.filter((_, j) => options[i + j]!.ticked);
      blocks.push({
        type: 'actions',
        block_id: checklistBlockId(card.runId, phase.name, i / 10),
        elements: [{ type: 'checkboxes', action_id: TICK_ACTION, options: chunk, ...(ticked.length ? { initial_options: ticked } : {}) }],
      });
    }
  }
  return blocks;
}

export function renderCard(card: CardView): Block[] {
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(card.title, 150), emoji: true } },
    mrkdwn(`${TONE_ICON[card.status.tone]} *${card.status.text}*`),
    { type: 'section', fields: card.facts.slice(0, 10).map((f) => ({ type: 'mrkdwn', text: clip(`*${f.label}*\n${f.value}`, 2000) })) },
  ];
  if (card.plan) {
    const lines = [`*Plan:* ${card.plan.summary}`];
    if (card.plan.note) lines.push(`:information_source: ${card.plan.note}`);
    lines.push(...card.plan.calls.map((c) => `\`${c}\``));
    blocks.push(mrkdwn(lines.join('\n')));
  }
  for (const phase of card.phases) {
    blocks.push({ type: 'divider' }, ...phaseBlocks(card, phase));
  }
  if (card.buttons.length) {
    blocks.push({
      type: 'actions',
      block_id: `buttons|${card.runId}`,
      elements: card.buttons.map((b) => ({
        type: 'button',
        action_id: `${ACTION_PREFIX}${b.intent}`,
        text: { type: 'plain_text', text: b.label, emoji: true },
        value: encodeButtonValue({ r: card.runId, i: b.intent, v: card.evidenceRev }),
        ...(b.style ? { style: b.style } : {}),
        ...(b.confirm
          ? {
              confirm: {
                title: { type: 'plain_text', text: clip(b.confirm.title, 100) },
                text: { type: 'mrkdwn', text: clip(b.confirm.text, 300) },
                confirm: { type: 'plain_text', text: b.confirm.confirm },
                deny: { type: 'plain_text', text: 'Not yet' },
              },
            }
          : {}),
      })),
    });
  }
  const context = [card.footer];
  if (card.approvalExpiresAt !== undefined) {
    const epoch = Math.floor(card.approvalExpiresAt / 1000);
    context.push(`approvals expire <!date^${epoch}^{date_short_pretty} at {time}|at ${new Date(card.approvalExpiresAt).toISOString().slice(0, 16).replace('T', ' ')} UTC>`);
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(context.join(' · '), 3000) }] });
  return blocks;
}

/** The notification text (and the fallback where blocks are not shown). */
export function cardFallback(card: CardView): string {
  return `${card.title} — ${card.status.text}`;
}
