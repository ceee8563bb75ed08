// "/scale cancel <run>": the same path into the engine as the card's Cancel button.
import { describeStatus } from '../src/engine/transition.ts';
import type { CommandContext, CommandReply } from './command-context.ts';

export async function cancel(ctx: CommandContext, runId: string): Promise<CommandReply> {
  const outcome = await ctx.runner.dispatch(runId, async (run) => ({ type: 'cancel', actor: await ctx.runner.actor(run, ctx.user) }), { quiet: true });
  if (!outcome.found) return `No run \`${runId}\` is known. \`/scale status\` lists the active ones.`;
  if (outcome.replies.length) return outcome.replies.join('\n');
  return `Run \`${runId}\` is ${outcome.run?.status === 'cancelled' ? 'cancelled; nothing was executed' : outcome.run ? describeStatus(outcome.run) : 'gone'}.`;
}
