// Every /scale subcommand, by name. A typed command and a button click take the same path into
// the engine (the runner's dispatch).
import { cancel } from './cancel.ts';
import type { CommandContext, CommandReply } from './command-context.ts';
import { help } from './help.ts';
import { history } from './history.ts';
import type { ScaleCommand } from './parse-scale-command.ts';
import { scale } from './scale.ts';
import { status } from './status.ts';

export { parseScaleCommand, USAGE, type ScaleCommand } from './parse-scale-command.ts';
export type { CommandContext, CommandReply } from './command-context.ts';

export async function runCommand(ctx: CommandContext, command: ScaleCommand): Promise<CommandReply> {
  switch (command.kind) {
    case 'help':
    case 'open-modal':
      return help(ctx);
    case 'status':
      return status(ctx, command.subject);
    case 'cancel':
      return cancel(ctx, command.runId);
    case 'history':
      return history(ctx, command.service);
    case 'scale':
      return scale(ctx, command);
  }
}
