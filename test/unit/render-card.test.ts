// The card as Slack receives it, pinned as golden files (review the diff when the card changes).
import { describe, expect, it } from 'vitest';
import { cardView } from '../../src/engine/card-view.ts';
import { decodeButtonValue } from '../../src/adapters/slack/button-value.ts';
import { renderCard } from '../../src/adapters/slack/render-card.ts';
import { passing, plan, Sim } from '../support/engine-fixtures.ts';

function blocksOf(sim: Sim) {
  return renderCard(cardView(sim.run));
}

describe('the run card in Block Kit', () => {
  it('waiting for the checklist and an approval', async () => {
    const sim = Sim.start();
    sim.answerChecks({ 'node-capacity': passing('12 more pods fit on 3 nodes, 5 needed (each requests 250m CPU, 256Mi memory)') });
    const blocks = blocksOf(sim);
    await expect(JSON.stringify(blocks, null, 2)).toMatchFileSnapshot('golden/card-awaiting.json');
    const buttons = blocks.flatMap((b) => ((b.elements as { type: string; value?: string }[] | undefined) ?? []).filter((e) => e.type === 'button'));
    expect(buttons.map((b) => decodeButtonValue(b.value))).toEqual([
      { r: 'run-test0001', i: 'approve', v: 1 },
      { r: 'run-test0001', i: 'reject', v: 1 },
      { r: 'run-test0001', i: 'rerun', v: 1 },
      { r: 'run-test0001', i: 'cancel', v: 1 },
    ]);
  });

  it('an HPA-managed target says so before approval', () => {
    const sim = Sim.start();
    sim.answerChecks({}, plan({
      summary: 'Set HPA prod/api-gateway minReplicas 3 → 10 (maxReplicas stays 50)',
      note: 'HPA api-gateway manages this Deployment, so scaling the Deployment alone would be undone by it: its minReplicas is raised instead.',
      before: { replicas: 5, readyReplicas: 5, hpa: { name: 'api-gateway', minReplicas: 3, maxReplicas: 50 } },
    }));
    const text = JSON.stringify(blocksOf(sim));
    expect(text).toContain('Set HPA prod/api-gateway minReplicas 3 → 10 (maxReplicas stays 50)');
    expect(text).toContain('scaling the Deployment alone would be undone by it');
    expect(text).toContain('api-gateway: 3..50');
  });

  it('verified', async () => {
    const sim = Sim.start();
    sim.answerChecks();
    sim.tickAll('U0DAVE');
    sim.approve();
    sim.send({ type: 'action-done', step: 'scale', key: 'run-test0001/scale', before: { replicas: 5, readyReplicas: 5 }, after: { replicas: 10, readyReplicas: 5 } });
    sim.send({ type: 'verify-passed', step: 'rollout', attempt: 1, result: passing('10/10 ready, generation 2 observed, no Pending pods, after 41s') }, 41_000);
    await expect(JSON.stringify(blocksOf(sim), null, 2)).toMatchFileSnapshot('golden/card-verified.json');
  });

  it('stays within Block Kit limits with long text', () => {
    const sim = Sim.start();
    sim.answerChecks({ 'pending-pods': { ok: false, summary: 'x'.repeat(5000), details: Array.from({ length: 50 }, (_, i) => `pod-${i}: ${'y'.repeat(200)}`), source: 't', at: 0 } });
    const blocks = blocksOf(sim);
    expect(blocks.length).toBeLessThanOrEqual(50);
    for (const b of blocks) {
      const text = (b.text as { text?: string } | undefined)?.text;
      if (text) expect(text.length).toBeLessThanOrEqual(3000);
    }
  });
});

describe('long phases', () => {
  it('continue in further sections instead of losing their last items (14 checks with evidence)', async () => {
    const { packSections } = await import('../../src/adapters/slack/render-card.ts');
    const lines = Array.from({ length: 14 }, (_, i) => `:white_check_mark: *Check ${i + 1}* — ${'evidence '.repeat(40)}`);
    const sections = packSections('*Pre-scale checks*', lines);
    expect(sections.length).toBeGreaterThan(1);
    for (const s of sections) expect(s.length).toBeLessThanOrEqual(2900);
    const all = sections.join('\n');
    for (let i = 1; i <= 14; i++) expect(all).toContain(`*Check ${i}*`);
    expect(sections[0]!.startsWith('*Pre-scale checks*')).toBe(true);
  });
});
