// The Slack transport: turns slash commands and clicks into commands and engine events, acking
// first (Slack allows 3 seconds) and doing the work after. No runbook logic lives here.
import { App, LogLevel } from '@slack/bolt';
import type { App as BoltApp, BlockAction, ButtonAction, CheckboxesAction, SlackActionMiddlewareArgs, AllMiddlewareArgs } from '@slack/bolt';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { parseScaleCommand, runCommand, type CommandContext } from '../../../commands/index.ts';
import type { RunEvent } from '../../engine/events.ts';
import type { Run } from '../../engine/run.ts';
import { plain } from '../../engine/text.ts';
import { PHASES, type PhaseName } from '../../workflows/runbook-schema.ts';
import { describeError } from '../../runner/runner.ts';
import { decodeButtonValue, parseChecklistBlock } from './button-value.ts';
import { ACTION_PREFIX, TICK_ACTION } from './render-card.ts';
import { boltLogger } from './bolt-logger.ts';
import { guardHttpReceiver } from './http-guard.ts';

export interface SlackAppOptions {
  botToken: string;
  signingSecret?: string;
  appToken?: string;
  port: number;
  slackApiUrl?: string;
  log: Logger;
  /** Web API retries: a few by default; tests pass 0. */
  retries?: number;
  /** GET /healthz: the process is alive. */
  health: () => Promise<{ ok: boolean; detail?: string }>;
  /** GET /readyz: ready for traffic (Slack connected, store reachable, not shutting down). */
  ready: () => Promise<{ ok: boolean; detail?: string }>;
  /** GET /metrics: Prometheus text exposition. */
  metrics: () => Promise<{ contentType: string; body: string }>;
}

export type CommandContextFactory = (user: string, channel: string) => CommandContext;

type Route = { path: string; method: string[]; handler: (req: IncomingMessage, res: ServerResponse) => void };

function jsonRoute(path: string, check: () => Promise<{ ok: boolean; detail?: string }>): Route {
  return {
    path,
    method: ['GET'],
    handler: (_req, res) => {
      void check()
        .catch((error) => ({ ok: false, detail: describeError(error) }))
        .then(({ ok, detail }) => {
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok, ...(detail ? { detail } : {}) }));
        });
    },
  };
}

export function createSlackApp(opts: SlackAppOptions): BoltApp {
  const socketMode = Boolean(opts.appToken);
  const metricsRoute: Route = {
    path: '/metrics',
    method: ['GET'],
    handler: (_req, res) => {
      void opts.metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        },
        (error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics unavailable: ${describeError(error)}`);
        },
      );
    },
  };
  const app = new App({
    token: opts.botToken,
    ...(socketMode ? { socketMode: true, appToken: opts.appToken, installerOptions: { port: opts.port } } : { signingSecret: opts.signingSecret, port: opts.port }),
    customRoutes: [jsonRoute('/healthz', opts.health), jsonRoute('/readyz', opts.ready), metricsRoute],
    logger: boltLogger(opts.log.child({ component: 'bolt' })),
    logLevel: LogLevel.INFO,
    clientOptions: {
      ...(opts.slackApiUrl ? { slackApiUrl: opts.slackApiUrl } : {}),
      retryConfig: { retries: opts.retries ?? 3, factor: 2, minTimeout: 500, maxTimeout: 5000 },
    },
  });
  // Future-dated, oversize and malformed requests are refused in front of Bolt's receiver.
  if (!socketMode && opts.signingSecret) guardHttpReceiver(app, { signingSecret: opts.signingSecret, log: opts.log.child({ component: 'http-guard' }) });
  return app;
}

type ActionArgs = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** Registers /scale and the card's interactions. */
export type FirstSeen = (key: string) => Promise<boolean>;

export interface ListenerHooks {
  /** Slack may deliver the same command or click more than once (retries, replayed envelopes). */
  firstSeen: FirstSeen;
  /** The workspace this bot serves (from auth.test); requests from another team are refused. */
  teamId: () => string | undefined;
  /** Whether new work is taken (false while shutting down). */
  accepting: () => boolean;
  observeAck: (kind: 'command' | 'action', seconds: number) => void;
}

export function registerListeners(app: BoltApp, makeContext: CommandContextFactory, log: Logger, hooks: ListenerHooks): void {
  const { firstSeen } = hooks;
  // Requests from another workspace (a wrong team id in a signed request) are refused, not served.
  app.use(async (args) => {
    const body = args.body as { team_id?: unknown; team?: { id?: unknown } | null; user?: { team_id?: unknown } | null };
    // Every team id the request carries must be ours, and it must carry one: fail closed.
    const teams = [body.team_id, body.team?.id, body.user?.team_id].filter((t) => t !== undefined && t !== null);
    const ours = hooks.teamId();
    const team = String(teams.find((t) => t !== ours) ?? teams[0] ?? '(none)');
    if (ours && (teams.length === 0 || teams.some((t) => t !== ours))) {
      log.warn({ team }, 'request from another workspace refused');
      const text = `This scalebot serves one workspace only; this request came from another (${team.slice(0, 20)}). Nothing was done.`;
      const { ack, respond } = args as unknown as { ack?: (r?: unknown) => Promise<void>; respond?: (r: unknown) => Promise<unknown> };
      if ('command' in args) await ack?.({ response_type: 'ephemeral', text });
      else {
        await ack?.();
        await respond?.({ response_type: 'ephemeral', replace_original: false, text }).catch(() => undefined);
      }
      return;
    }
    await args.next();
  });

  app.command('/scale', async ({ command, ack: rawAck, respond }) => {
    const received = performance.now();
    const ack: typeof rawAck = async (response?: Parameters<typeof rawAck>[0]) => {
      await rawAck(response);
      hooks.observeAck('command', (performance.now() - received) / 1000);
    };
    if (!hooks.accepting()) {
      await ack({ response_type: 'ephemeral', text: 'scalebot is restarting; nothing was done. Try again in a few seconds.' });
      return;
    }
    const parsed = parseScaleCommand(typeof command.text === 'string' ? command.text : '');
    if (!parsed.ok) {
      // Refusals that need no lookup are answered in the ack itself (a duplicate is harmless).
      await ack({ response_type: 'ephemeral', text: parsed.error });
      return;
    }
    // Ack first: the dedupe is a store round trip, and Slack allows 3 seconds.
    await ack();
    if (command.trigger_id && !(await firstSeen(`command:${command.trigger_id}`))) {
      log.info({ trigger: command.trigger_id }, 'duplicate /scale delivery ignored');
      return;
    }
    const ctx = makeContext(command.user_id, command.channel_id);
    // The answer goes to the command's response_url; a command without one (Bolt then gives no
    // respond) is answered with an ephemeral in its channel.
    const reply = (text: string): Promise<unknown> =>
      command.response_url ? respond({ response_type: 'ephemeral', text }) : ctx.chat.postEphemeral(command.channel_id, command.user_id, text);
    try {
      const text = await runCommand(ctx, parsed.command);
      await reply(text);
    } catch (error) {
      log.error({ err: describeError(error), subcommand: parsed.command.kind }, 'command failed');
      await reply(`Something went wrong handling that command: ${describeError(error)}. Nothing further was done; try again or check the bot's logs.`).catch((e) => log.warn({ err: describeError(e) }, 'command answer failed'));
    }
  });

  app.action({ type: 'block_actions', action_id: new RegExp(`^${ACTION_PREFIX}`) }, async (args) => {
    const received = performance.now();
    await args.ack();
    hooks.observeAck('action', (performance.now() - received) / 1000);
    const { action, body } = args as ActionArgs;
    const stamp = (action as { action_ts?: string }).action_ts;
    if (stamp && !(await firstSeen(`action:${body.user.id}:${action.action_id}:${stamp}`))) {
      log.info({ action: action.action_id, user: body.user.id }, 'duplicate click delivery ignored');
      return;
    }
    await handleAction(args as ActionArgs, makeContext, log);
  });

  // Anything else (an action id this version does not know) is answered, not ignored.
  app.action({ type: 'block_actions', action_id: /^(?!scalebot_)/ }, async (args) => {
    await args.ack();
    const { client } = args;
    const tell = teller(args as ActionArgs, (channel, user, text) => client.chat.postEphemeral({ channel, user, text }), log);
    await tell('That control is not one scalebot knows (it may come from an older card). Nothing was done.');
  });
}

/**
 * How the person who clicked is told something: an ephemeral in the card's channel, or, for a
 * click that names no channel, on the click's response_url (as a new ephemeral, the card stays).
 */
function teller(args: ActionArgs, postEphemeral: (channel: string, user: string, text: string) => Promise<unknown>, log: Logger): (text: string) => Promise<void> {
  const { body, respond } = args;
  const channel = body.channel?.id;
  const user = body.user.id;
  return async (text) => {
    try {
      if (channel) await postEphemeral(channel, user, text);
      else if (body.response_url) await respond({ response_type: 'ephemeral', replace_original: false, text });
      else log.warn({ user }, 'a click names neither a channel nor a response_url: nobody to tell');
    } catch (error) {
      log.warn({ err: describeError(error) }, 'ephemeral failed');
    }
  };
}

/** The values of a checkbox group's selected options, or undefined when they are not a list of options with string values. */
function selectedValues(selected: unknown): string[] | undefined {
  if (!Array.isArray(selected)) return undefined;
  const values: string[] = [];
  for (const option of selected as unknown[]) {
    const value = typeof option === 'object' && option !== null ? (option as { value?: unknown }).value : undefined;
    if (typeof value !== 'string') return undefined;
    values.push(value);
  }
  return values;
}

/** The checkbox group with this block id on the message the person clicked (what they saw), if it is there. */
function shownChecklist(blocks: unknown, blockId: string): { options: string[]; initial: string[] } | undefined {
  if (!Array.isArray(blocks)) return undefined;
  type Shown = { block_id?: unknown; elements?: unknown };
  const block = (blocks as Shown[]).find((b) => typeof b === 'object' && b !== null && b.block_id === blockId);
  const element: unknown = Array.isArray(block?.elements) ? block.elements[0] : undefined;
  if (typeof element !== 'object' || element === null) return undefined;
  const values = (list: unknown) => (Array.isArray(list) ? list.flatMap((o: unknown) => (typeof o === 'object' && o !== null && typeof (o as { value?: unknown }).value === 'string' ? [(o as { value: string }).value] : [])) : []);
  const { options, initial_options } = element as { options?: unknown; initial_options?: unknown };
  return { options: values(options), initial: values(initial_options) };
}

/** Values of a checklist click that are not manual steps of the run in the block's phase. */
function unknownItems(run: Run, phase: string, values: string[]): string[] {
  const steps = (PHASES as readonly string[]).includes(phase) ? run.runbook.phases[phase as PhaseName] : [];
  const manual = new Set(steps.flatMap((s) => (s.kind === 'manual' ? [s.id] : [])));
  return values.filter((v) => !manual.has(v));
}

async function handleAction(args: ActionArgs, makeContext: CommandContextFactory, log: Logger): Promise<void> {
  const { action, body } = args;
  const user = body.user.id;
  const channel = body.channel?.id ?? '';
  const ctx = makeContext(user, channel);
  const tell = teller(args, (c, u, text) => ctx.chat.postEphemeral(c, u, text), log);

  let runId: string | undefined;
  let event: (run: Run) => Promise<RunEvent>;
  /** For a checklist click: its phase and the values it selects, checked against the run below. */
  let ticks: { phase: string; selected: string[] } | undefined;
  if (action.action_id === TICK_ACTION && action.type === 'checkboxes') {
    const boxes = action as CheckboxesAction;
    const selected = selectedValues((boxes as { selected_options?: unknown }).selected_options);
    if (!selected) {
      await tell('That checklist click is not valid (its selected options are missing or not options). Nothing was done.');
      return;
    }
    const block = parseChecklistBlock(boxes.block_id);
    if (!block) {
      await tell('That checklist is not valid (it does not name a scalebot run). Nothing was done.');
      return;
    }
    // Compare with what this person saw: only their own changes count, so a card that was stale in
    // their client cannot untick someone else's item.
    const shown = shownChecklist(body.message?.blocks, boxes.block_id);
    if (!shown) {
      await tell('That checklist is not on the card it was clicked on. Nothing was done; use the checklist on the run\'s current card (`/scale status` links it).');
      return;
    }
    runId = block.runId;
    ticks = { phase: block.phase, selected };
    const before = new Set(shown.initial);
    const after = new Set(selected);
    const changes = shown.options.filter((id) => before.has(id) !== after.has(id)).map((id) => ({ step: id, ticked: after.has(id) }));
    event = async (run) => {
      const restricted = run.runbook.phases['pre-scale'].flatMap((s) => (s.kind === 'manual' && s.who ? [{ id: s.id, who: s.who }] : []));
      return { type: 'ticks', actor: await ctx.runner.actor(run, user), changes, allowed: await ctx.runner.policy.allowed(restricted, user) };
    };
  } else {
    const value = decodeButtonValue(action.type === 'button' ? (action as ButtonAction).value : undefined);
    if (!value || `${ACTION_PREFIX}${value.i}` !== action.action_id) {
      await tell('That button is not valid (its value does not match a scalebot card). Nothing was done; use the buttons on the run\'s current card (`/scale status` links it).');
      return;
    }
    runId = value.r;
    event = async (run): Promise<RunEvent> => {
      const actor = await ctx.runner.actor(run, user);
      switch (value.i) {
        case 'approve':
          return { type: 'approve', actor, evidenceRev: value.v };
        case 'reject':
          return { type: 'reject', actor };
        case 'rerun':
          return { type: 'rerun-checks', actor };
        case 'cancel':
          return { type: 'cancel', actor };
        case 'close':
          return { type: 'close', actor };
        case 'rollback':
          return { type: 'approve-rollback', actor };
        case 'schedule-down':
          return { type: 'schedule-scale-down', actor };
        case 'cancel-down':
          return { type: 'cancel-scale-down', actor };
      }
    };
  }
  // The card must be the run's own: a value naming another run (tampered or copied) is refused.
  const cardTs = body.message?.ts;
  const existing = await ctx.store.get(runId);
  if (existing?.card && (existing.card.ts !== cardTs || existing.card.channel !== channel)) {
    await tell(`That control names run \`${runId}\`, which is not the run of this card. Nothing was done.`);
    return;
  }
  // A checklist click may only name the run's own checklist items (of the block's phase).
  const unknown = existing && ticks ? unknownItems(existing, ticks.phase, ticks.selected) : [];
  if (unknown.length) {
    const named = unknown.slice(0, 5).map((v) => `\`${plain(v.slice(0, 40)).replace(/`/g, "'")}\``).join(', ') + (unknown.length > 5 ? ` and ${unknown.length - 5} more` : '');
    await tell(`That checklist click names ${unknown.length === 1 ? 'an item' : 'items'} run \`${runId}\` does not have: ${named}. Nothing was ticked; use the checklist on the run's current card.`);
    return;
  }
  try {
    const outcome = await ctx.runner.dispatch(runId, event, { replyChannel: channel });
    if (!outcome.found) await tell(`Run \`${runId}\` is not known to this bot (runs kept in memory are lost when the bot restarts). Nothing was done.`);
  } catch (error) {
    log.error({ runId, err: describeError(error) }, 'action failed');
    await tell(`Something went wrong: ${describeError(error)}. Nothing further was done; the card shows the run's true state.`);
  }
}
