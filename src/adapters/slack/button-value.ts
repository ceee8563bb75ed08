// A button carries an intent, not logic: { run, intent, evidence revision }. Anything else in a
// value (tampered, truncated, from another app) is refused before it reaches the engine.
import { z } from 'zod';
import type { Intent } from '../../engine/card-view.ts';

const INTENTS = ['approve', 'reject', 'rerun', 'cancel', 'rollback', 'close', 'schedule-down', 'cancel-down'] as const satisfies readonly Intent[];

const buttonValueSchema = z.strictObject({
  r: z.string().regex(/^run-[a-z0-9]{4,20}$/),
  i: z.enum(INTENTS),
  v: z.number().int().min(0).max(1_000_000),
});

export type ButtonValue = z.output<typeof buttonValueSchema>;

export function encodeButtonValue(value: ButtonValue): string {
  return JSON.stringify(value);
}

export function decodeButtonValue(text: string | undefined): ButtonValue | undefined {
  if (!text || text.length > 200) return undefined;
  try {
    const parsed = buttonValueSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Checkbox groups name their run, phase and chunk (of 10 options) in the block id: "tick|<runId>|<phase>|<chunk>". */
export function checklistBlockId(runId: string, phase: string, chunk: number): string {
  return `tick|${runId}|${phase}|${chunk}`;
}

/** The parts of a checklist block id: its run, phase and chunk. */
export function parseChecklistBlock(blockId: string | undefined): { runId: string; phase: string; chunk: number } | undefined {
  const match = /^tick\|(run-[a-z0-9]{4,20})\|([a-z-]{1,40})\|(\d{1,4})$/.exec(blockId ?? '');
  return match ? { runId: match[1]!, phase: match[2]!, chunk: Number(match[3]) } : undefined;
}
