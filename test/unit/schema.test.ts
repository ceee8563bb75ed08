// The JSON Schemas in schemas/ are generated from the zod schemas (`scalebot schema`): they must not
// drift, and they must describe what the bot accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonSchema, schemaCommand } from '../../src/cli/schema.ts';

const root = join(import.meta.dirname, '../..');

describe('scalebot schema', () => {
  for (const kind of ['runbook', 'catalog'] as const) {
    it(`schemas/${kind}.schema.json is what \`scalebot schema ${kind}\` prints (regenerate with: node bin/scalebot.js schema ${kind} > schemas/${kind}.schema.json)`, () => {
      const committed = JSON.parse(readFileSync(join(root, 'schemas', `${kind}.schema.json`), 'utf8'));
      expect(committed).toEqual(jsonSchema(kind));
    });
  }

  it('lists every step kind and probe an editor should offer', () => {
    const text = JSON.stringify(jsonSchema('runbook'));
    for (const kind of ['check', 'manual', 'approval', 'action', 'wait', 'verify', 'notify']) expect(text).toContain(`"const":"${kind}"`);
    for (const probe of ['prometheus', 'postgres.connections', 'redis.info', 'queue.depth', 'http.health', 'kubernetes.pod-usage']) expect(text).toContain(`"${probe}"`);
  });

  it('refuses an unknown schema name with exit 2', () => {
    const err: string[] = [];
    expect(schemaCommand(['workflow'], { out: () => undefined, err: (l) => err.push(l) })).toBe(2);
    expect(err[0]).toContain('expected "runbook" or "catalog"');
  });
});
