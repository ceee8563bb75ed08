// The `scalebot` command line (bin/scalebot.js runs it): subcommands that work without Slack or a
// cluster (on files, or on the bots' Redis). Each command returns its exit code; 2 means the command line itself was wrong.
import { auditCommand } from './audit-export.ts';
import { validateCommand, type Output } from './validate.ts';
import { schemaCommand } from './schema.ts';

interface Command {
  /** Arguments, as shown in the usage. */
  args: string;
  summary: string;
  run(args: string[], io: Output): number | Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  validate: {
    args: '<file-or-dir> [...more]',
    summary: 'check catalogs and runbooks; prints each problem as file:line: path: message, exit 1 if any',
    run(args, io) {
      if (args.length === 0) {
        io.err('scalebot validate: name at least one catalog, runbook or folder of them');
        io.err(usage());
        return 2;
      }
      return validateCommand(args, io);
    },
  },
  schema: {
    args: '[runbook|catalog]',
    summary: 'print the JSON Schema of a runbook (default) or a catalog, for editor completion',
    run: (args, io) => schemaCommand(args, io),
  },
  audit: {
    args: '[--run <run-id>] [--service <name>] [--since <ISO time>] [--limit <n>]',
    summary: 'export the audit record (REDIS_URL) as JSON lines, oldest first',
    run: (args, io) => auditCommand(args, io),
  },
};

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  scalebot ${name} ${c.args}\n      ${c.summary}`);
  return ['Usage:', ...lines, '  scalebot help\n      show this help'].join('\n');
}

export async function main(argv: string[], io: Output = stdio): Promise<number> {
  const [name, ...args] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    io.out(usage());
    return 0;
  }
  const command = name === undefined ? undefined : Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.err(name === undefined ? 'scalebot: name a command' : `scalebot: unknown command "${name}"`);
    io.err(usage());
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.out(usage());
    return 0;
  }
  return command.run(args, io);
}

const stdio: Output = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
};
