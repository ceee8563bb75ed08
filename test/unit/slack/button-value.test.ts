// Checklist block ids: "tick|<run>|<phase>|<chunk>" (src/adapters/slack/button-value.ts).
import { describe, expect, it } from 'vitest';
import { checklistBlockId, parseChecklistBlock } from '../../../src/adapters/slack/button-value.ts';

describe('parseChecklistBlock', () => {
  it('reads the run, phase and chunk of a checklist block id', () => {
    expect(parseChecklistBlock(checklistBlockId('run-abcd1234', 'pre-scale', 1))).toEqual({ runId: 'run-abcd1234', phase: 'pre-scale', chunk: 1 });
    expect(parseChecklistBlock('tick|run-abcd1234|pre-scale|0')).toEqual({ runId: 'run-abcd1234', phase: 'pre-scale', chunk: 0 });
    expect(parseChecklistBlock('tick|run-abcd1234|pre-scale|3')).toEqual({ runId: 'run-abcd1234', phase: 'pre-scale', chunk: 3 });
  });

  it('refuses anything else', () => {
    for (const id of [undefined, '', 'tick|', 'buttons|run-abcd1234', 'tick|run-abcd1234|pre-scale', 'tick|run-abcd1234|pre-scale|0|x', 'tick|RUN-ABCD|pre-scale|0', `tick|run-abcd1234|${'p'.repeat(10_000)}|0`]) {
      expect(parseChecklistBlock(id), String(id).slice(0, 60)).toBeUndefined();
    }
  });
});
