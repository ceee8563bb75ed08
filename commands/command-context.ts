// What a subcommand may use. The Slack adapter builds it per invocation.
import type { Catalog } from '../src/config/catalog.ts';
import type { ChatPort } from '../src/ports/chat.port.ts';
import type { Runner } from '../src/runner/runner.ts';
import type { RunStore } from '../src/ports/run-store.port.ts';
import type { Runbook } from '../src/workflows/runbook-schema.ts';

export interface CommandContext {
  catalog: Catalog;
  runbooks: Map<string, Runbook>;
  runner: Runner;
  store: RunStore;
  chat: ChatPort;
  /** Who typed the command, and where. */
  user: string;
  channel: string;
}

/** What the person who typed the command is told (ephemeral). */
export type CommandReply = string;
