import { USAGE } from './parse-scale-command.ts';
import type { CommandContext, CommandReply } from './command-context.ts';

export function help(ctx: Pick<CommandContext, 'catalog'>): CommandReply {
  const services = Object.entries(ctx.catalog.services)
    .map(([name, s]) => `• \`${name}\` — ${s.limits.min}..${s.limits.max} replicas${s.description ? `, ${s.description}` : ''}`)
    .join('\n');
  return `*scalebot* runs scaling runbooks: checks, a checklist, a peer's approval, execution and verification, all on one card.\n${USAGE}\n*Services*\n${services}`;
}
