// `scalebot schema [runbook|catalog]`: the JSON Schema of a runbook or a catalog, generated from the
// zod schemas the bot validates with, for editor completion (yaml-language-server and the like).
// Rules that span fields (references, phases' shapes) are checked by `scalebot validate`, not here.
import { z } from 'zod';
import { catalogSchema } from '../config/catalog.ts';
import { runbookSchema } from '../workflows/runbook-schema.ts';
import type { Output } from './validate.ts';

const SCHEMAS = {
  runbook: { schema: runbookSchema, title: 'scalebot runbook' },
  catalog: { schema: catalogSchema, title: 'scalebot service catalog' },
} as const;

export function jsonSchema(kind: keyof typeof SCHEMAS): Record<string, unknown> {
  const { schema, title } = SCHEMAS[kind];
  // Input form: what a person writes (durations and formulas as strings, defaults optional).
  return { title, ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) };
}

export function schemaCommand(args: string[], io: Output): number {
  const kind = args[0] ?? 'runbook';
  if (args.length > 1 || !Object.hasOwn(SCHEMAS, kind)) {
    io.err(`scalebot schema: expected "runbook" or "catalog", got ${args.map((a) => JSON.stringify(a)).join(' ')}`);
    return 2;
  }
  io.out(JSON.stringify(jsonSchema(kind as keyof typeof SCHEMAS), null, 2));
  return 0;
}
