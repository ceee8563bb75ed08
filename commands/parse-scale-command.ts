// Parses the text after "/scale" into a command, or a refusal that says what was wrong and what is
// accepted. Pure: nothing is looked up or executed here.
import { plain } from '../src/engine/text.ts';

export type ScaleCommand =
  | { kind: 'help' }
  | { kind: 'open-modal' }
  | { kind: 'status'; subject?: string }
  | { kind: 'cancel'; runId: string }
  | { kind: 'history'; service: string }
  /** `replicas` absent: a scale-down to the baseline, or "auto" (the runbook's target formula decides). */
  | { kind: 'scale'; direction: 'up' | 'down'; service: string; replicas?: number; reason?: string; dryRun: boolean };

export type ParseResult = { ok: true; command: ScaleCommand } | { ok: false; error: string };

export const USAGE = [
  '`/scale <service> <replicas> [--reason "why"] [--dry-run]` — open a run that scales a service to <replicas>',
  '`/scale <service> auto` — let the service\'s runbook compute the replicas (e.g. from the queue depth)',
  '`/scale down <service> [to <replicas>]` — a gradual scale-down, to the baseline unless a number is given',
  '`/scale status [service|run]` — active runs with their phase and link',
  '`/scale cancel <run>` — cancel a run before execution (requester or an approver)',
  '`/scale history <service>` — the last runs of a service: who, what, outcome, how long',
  '`/scale help` — this list',
].join('\n');

const MAX_TEXT = 1000;
const MAX_REASON = 300;
const SERVICE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const RUN_ID = /^run-[a-z0-9]{4,20}$/;

/** Splits on whitespace, honouring "double", 'single' and “smart” quotes as Slack clients send them. */
export function tokenize(text: string): { tokens: string[] } | { error: string } {
  const tokens: string[] = [];
  const re = /\s*(?:"([^"]*)"|'([^']*)'|“([^”]*)”|(\S+))/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = re.exec(text)) !== null) {
    if (match[0].trim() === '') break;
    const token = match[1] ?? match[2] ?? match[3] ?? match[4] ?? '';
    if (match[4] !== undefined && /["“”]/.test(token)) return { error: 'a quote is not closed; put the reason in "double quotes"' };
    tokens.push(token);
    consumed = re.lastIndex;
  }
  if (text.slice(consumed).trim() !== '') return { error: 'a quote is not closed; put the reason in "double quotes"' };
  return { tokens };
}

/** Slack sends &, < and > escaped in command text. */
function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function shown(token: string): string {
  const cut = token.length > 40 ? `${token.slice(0, 40)}…` : token;
  return `\`${plain(cut).replace(/`/g, "'")}\``;
}

export function parseScaleCommand(rawText: string): ParseResult {
  if (rawText.length > MAX_TEXT) return { ok: false, error: `That command is ${rawText.length} characters long; at most ${MAX_TEXT} are accepted.\n${USAGE}` };
  const text = unescapeSlack(rawText).trim();
  if (text === '') return { ok: true, command: { kind: 'open-modal' } };
  const split = tokenize(text);
  if ('error' in split) return { ok: false, error: `Could not read that command: ${split.error}.` };
  const [first, ...rest] = split.tokens;
  const word = first!.toLowerCase();

  if (word === 'help') return rest.length ? extra(rest, 'help takes no arguments') : { ok: true, command: { kind: 'help' } };
  if (word === 'status') {
    if (rest.length > 1) return extra(rest.slice(1), '`/scale status` takes at most one service or run');
    const subject = rest[0];
    if (subject !== undefined && !SERVICE.test(subject) && !RUN_ID.test(subject)) {
      return { ok: false, error: `${shown(subject)} is neither a service name nor a run id (like \`run-k3f9x2ab\`).` };
    }
    return { ok: true, command: { kind: 'status', subject } };
  }
  if (word === 'cancel') {
    const runId = rest[0];
    if (runId === undefined) return { ok: false, error: 'Which run? Use `/scale cancel <run>`, e.g. `/scale cancel run-k3f9x2ab` (`/scale status` lists them).' };
    if (!RUN_ID.test(runId)) return { ok: false, error: `${shown(runId)} is not a run id; run ids look like \`run-k3f9x2ab\` (\`/scale status\` lists them).` };
    if (rest.length > 1) return extra(rest.slice(1), '`/scale cancel` takes one run id');
    return { ok: true, command: { kind: 'cancel', runId } };
  }
  if (word === 'history') {
    const service = rest[0];
    if (service === undefined) return { ok: false, error: 'Which service? Use `/scale history <service>`, e.g. `/scale history api-gateway`.' };
    if (!SERVICE.test(service)) return { ok: false, error: `${shown(service)} is not a service name (lower-case letters, digits and dashes).` };
    if (rest.length > 1) return extra(rest.slice(1), '`/scale history` takes one service');
    return { ok: true, command: { kind: 'history', service } };
  }
  if (word === 'down') {
    const service = rest[0];
    if (service === undefined) return { ok: false, error: 'Which service? Use `/scale down <service> [to <replicas>]`, e.g. `/scale down pdf-worker to 3`.' };
    const args = rest.slice(1);
    if (args[0]?.toLowerCase() === 'to') args.shift();
    return parseScaleRequest(service, args, 'down');
  }
  if (word === 'plan' || word === 'event' || word === 'events') {
    return { ok: false, error: `\`/scale ${word}\` is not available yet in this version.\n${USAGE}` };
  }
  return parseScaleRequest(first!, rest);
}

function extra(tokens: string[], why: string): ParseResult {
  return { ok: false, error: `Unexpected ${tokens.map(shown).join(' ')}: ${why}.` };
}

function parseScaleRequest(service: string, args: string[], direction: 'up' | 'down' = 'up'): ParseResult {
  if (!SERVICE.test(service)) {
    return { ok: false, error: `${shown(service)} is not a service name or a subcommand. Service names are lower-case letters, digits and dashes.\n${USAGE}` };
  }
  let replicasText: string | undefined;
  let reason: string | undefined;
  let dryRun = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--dry-run') {
      dryRun = true;
    } else if (arg === '--reason' || arg.startsWith('--reason=')) {
      const value = arg === '--reason' ? args[++i] : arg.slice('--reason='.length);
      if (value === undefined || value.trim() === '') return { ok: false, error: '`--reason` needs a text, e.g. `--reason "campaign traffic"`.' };
      if (reason !== undefined) return { ok: false, error: 'Give `--reason` once.' };
      if (value.length > MAX_REASON) return { ok: false, error: `The reason is ${value.length} characters long; at most ${MAX_REASON} are accepted.` };
      reason = value.trim();
    } else if (arg.startsWith('-') && !/^-\d/.test(arg)) {
      return { ok: false, error: `Unknown option ${shown(arg)}. Accepted: \`--reason "why"\`, \`--dry-run\`.` };
    } else if (replicasText === undefined) {
      replicasText = arg;
    } else {
      return extra([arg], 'a request takes one replica count; put words in `--reason "…"`');
    }
  }
  if (replicasText === undefined && direction === 'down') return { ok: true, command: { kind: 'scale', direction, service, reason, dryRun } };
  if (replicasText === undefined) {
    return { ok: false, error: `How many replicas? Use \`/scale ${service} <replicas>\`, e.g. \`/scale ${service} 10 --reason "campaign"\`, or \`/scale ${service} auto\` when its runbook computes them.` };
  }
  if (direction === 'up' && replicasText.toLowerCase() === 'auto') return { ok: true, command: { kind: 'scale', direction, service, reason, dryRun } };
  if (!/^\d{1,6}$/.test(replicasText)) {
    const why = /^-\d/.test(replicasText) ? 'it cannot be negative' : /^\d+$/.test(replicasText) ? 'it is far too large' : 'it must be a whole number';
    return { ok: false, error: `${shown(replicasText)} is not a replica count: ${why}. Use a whole number within the service's limits, e.g. \`/scale ${service} 10\`.` };
  }
  return { ok: true, command: { kind: 'scale', direction, service, replicas: Number(replicasText), reason, dryRun } };
}
