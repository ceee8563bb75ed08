// "/scale history <service>": the last runs of a service, with who, what, outcome and duration.
import { describeStatus } from '../src/engine/transition.ts';
import { mention } from '../src/engine/text.ts';
import { formatDuration } from '../src/workflows/duration.ts';
import type { CommandContext, CommandReply } from './command-context.ts';

const LIMIT = 10;

export async function history(ctx: CommandContext, service: string): Promise<CommandReply> {
  if (!ctx.catalog.services[service]) {
    return `There is no service \`${service}\` in the catalog. Known services: ${Object.keys(ctx.catalog.services).sort().map((s) => `\`${s}\``).join(', ')}.`;
  }
  const runs = await ctx.store.list({ service, limit: LIMIT });
  if (!runs.length) return `No runs for \`${service}\` yet.`;
  const lines = runs.map((run) => {
    const when = `<!date^${Math.floor(run.createdAt / 1000)}^{date_short} {time}|${new Date(run.createdAt).toISOString().slice(0, 16).replace('T', ' ')} UTC>`;
    const before = run.before ?? run.plan?.before;
    const change = before ? `${before.replicas} → ${run.request.replicas}` : `→ ${run.request.replicas}`;
    const approvers = run.approvals.length ? `, approved by ${run.approvals.map((a) => mention(a.user)).join(', ')}` : '';
    const took = run.finishedAt !== undefined ? `, ${formatDuration(run.finishedAt - run.createdAt)}` : '';
    return `• ${when} \`${run.id}\` ${change}${run.request.dryRun ? ' (dry run)' : ''} — ${describeStatus(run)}; requested by ${mention(run.request.requester)}${approvers}${took}`;
  });
  return [`*${service}*: the last ${runs.length} run${runs.length > 1 ? 's' : ''}, newest first`, ...lines].join('\n');
}
