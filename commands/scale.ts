// "/scale <service> <replicas>": refuses what the catalog forbids before anything starts, then
// opens a run (one per target) and tells the person where its card is.
import { DEFAULT_DOWN_RUNBOOK, DEFAULT_RUNBOOK } from '../src/config/runbooks.ts';
import { serviceSnapshot } from '../src/config/service-snapshot.ts';
import { describeStatus } from '../src/engine/transition.ts';
import { mention, plain } from '../src/engine/text.ts';
import type { CommandContext, CommandReply } from './command-context.ts';
import type { ScaleCommand } from './parse-scale-command.ts';

export async function scale(ctx: CommandContext, command: Extract<ScaleCommand, { kind: 'scale' }>): Promise<CommandReply> {
  const { catalog, runbooks, runner, chat } = ctx;
  const config = catalog.services[command.service];
  const service = serviceSnapshot(catalog, command.service);
  if (!config || !service) {
    const known = Object.keys(catalog.services).sort().map((s) => `\`${s}\``).join(', ');
    return `There is no service \`${plain(command.service)}\` in the catalog. Known services: ${known}.`;
  }
  if (config.requesters && !(await runner.policy.isApprover(config.requesters, ctx.user))) {
    return `You may not request scaling of \`${command.service}\`: the catalog allows requests from ${config.requesters.map((r) => (r.startsWith('S') ? `<!subteam^${r}>` : mention(r))).join(', ')}.`;
  }
  const { min, max, baseline } = service.limits;
  const down = command.direction === 'down';
  if (command.replicas !== undefined && (command.replicas < min || command.replicas > max)) {
    return `Refused: ${command.replicas} replicas is outside the limits of \`${command.service}\` (min ${min}, max ${max}). Ask for a value from ${min} to ${max}, or change the limits in the catalog.`;
  }
  if (down && command.replicas !== undefined && command.replicas < baseline) {
    return `Refused: ${command.replicas} replicas is below the baseline of \`${command.service}\` (${baseline}); scale-downs stop at the baseline. Use \`/scale down ${command.service}\` to return to it.`;
  }
  const runbookName = (down ? config.runbooks.down : config.runbooks.up) ?? (down ? DEFAULT_DOWN_RUNBOOK : DEFAULT_RUNBOOK);
  const runbook = runbooks.get(runbookName);
  if (!runbook) return `The runbook \`${runbookName}\` for \`${command.service}\` is not loaded; check the catalog and workflows/.`;
  if (runbook.direction !== 'any' && runbook.direction !== command.direction) {
    return `Refused: the runbook \`${runbookName}\` for \`${command.service}\` scales ${runbook.direction}, and this request scales ${command.direction}. Fix \`runbooks.${command.direction}\` in the catalog.`;
  }
  if (!down && command.replicas === undefined && !runbook.target) {
    return `The runbook \`${runbookName}\` for \`${command.service}\` has no target formula, so it cannot compute the replicas: ask for a number, e.g. \`/scale ${command.service} ${Math.min(max, baseline + 1)}\`.`;
  }

  const started = await runner.start(service, runbook, {
    replicas: command.replicas,
    reason: command.reason,
    dryRun: command.dryRun,
    requester: ctx.user,
    originChannel: ctx.channel,
  });
  if (!started.started) {
    if (started.reason === 'card-failed') {
      return `Could not post the run card to ${service.channel.startsWith('#') ? service.channel : `<#${service.channel}>`}: ${plain(started.error)}. Invite the bot to that channel (or fix \`channel\` in the catalog) and try again. Nothing was executed.`;
    }
    const holder = started.holder;
    const who = holder ? ` started by ${mention(holder.request.requester)}, ${describeStatus(holder)}` : '';
    const link = holder?.card ? await chat.permalink(holder.card).catch(() => undefined) : undefined;
    return `\`${command.service}\` is busy: run \`${started.holderId}\`${who} holds ${plain(service.targetLabel)}${link ? ` (<${link}|card>)` : ''}. One run per target: wait for it to finish, or cancel it with \`/scale cancel ${started.holderId}\`.`;
  }
  const link = await chat.permalink(started.card).catch(() => undefined);
  const where = started.card.channel === ctx.channel ? 'below' : `in <#${started.card.channel}>`;
  return `Run \`${started.run.id}\` opened ${where}${link ? `: <${link}|open the card>` : ''}.${command.dryRun ? ' Dry run: nothing will be executed.' : ''}`;
}
