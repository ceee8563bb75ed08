// "/scale status [service|run]": active runs with their phase and a link to the card.
import { describeStatus } from '../src/engine/transition.ts';
import { targetWords } from '../src/engine/common.ts';
import { isActive, type Run } from '../src/engine/run.ts';
import { mention } from '../src/engine/text.ts';
import type { CommandContext, CommandReply } from './command-context.ts';

async function line(ctx: CommandContext, run: Run): Promise<string> {
  const link = run.card ? await ctx.chat.permalink(run.card).catch(() => undefined) : undefined;
  const from = run.plan ? `${run.plan.before.replicas} → ` : '';
  return `• \`${run.id}\` *${run.service.name}*${run.runbook.direction === 'down' ? ' down' : ''} ${from}${targetWords(run)}${run.request.dryRun ? ' (dry run)' : ''} — ${describeStatus(run)}, requested by ${mention(run.request.requester)}${link ? ` · <${link}|card>` : ''}`;
}

export async function status(ctx: CommandContext, subject: string | undefined): Promise<CommandReply> {
  if (subject?.startsWith('run-')) {
    const run = await ctx.store.get(subject);
    if (!run) return `No run \`${subject}\` is known. \`/scale status\` lists the active ones.`;
    return line(ctx, run);
  }
  if (subject !== undefined) {
    if (!ctx.catalog.services[subject]) return `There is no service \`${subject}\` in the catalog. Known services: ${Object.keys(ctx.catalog.services).sort().map((s) => `\`${s}\``).join(', ')}.`;
    const runs = await ctx.store.list({ service: subject, limit: 5 });
    if (!runs.length) return `No runs for \`${subject}\` yet.`;
    const active = runs.filter(isActive);
    const header = active.length ? `*${subject}*: 1 active run` : `*${subject}*: no active run; the last ones:`;
    return [header, ...(await Promise.all(runs.map((r) => line(ctx, r))))].join('\n');
  }
  const active = await ctx.store.list({ active: true });
  if (!active.length) return 'No active runs.';
  return [`*${active.length} active run${active.length > 1 ? 's' : ''}*`, ...(await Promise.all(active.map((r) => line(ctx, r))))].join('\n');
}
