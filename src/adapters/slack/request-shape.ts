// What a signed request to /slack/events must look like before Bolt reads it. Bolt's receiver and
// App index into the parsed body without looking: HTTPReceiver reads `body.ssl_check` (a `null`
// body throws there, in an un-awaited async function: the request is never answered), App reads
// `body.user.id`, destructures `body.actions` and tests `'action_id' in actions[0]` and
// `action_id.match(…)` (anything else of the wrong type is answered 500). This says, in a few
// words, what is wrong with a body, or nothing when Bolt and scalebot's listeners can take it.
// Only shapes are checked here; what the values mean (a run id, a button value) is the listeners'.

/** Where the parsed body came from: a form's fields (a slash command), a form's `payload` field (an interaction), or a JSON body. */
export type BodySource = 'form' | 'payload' | 'json';

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A short name for what a value is, for the reason given back (never the value itself). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** The key, safe to quote in a reason: short, and printable. */
const quoteKey = (key: string): string => JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key).replace(/[^\x20-\x7e]/g, '?');

function mustBe(body: Fields, key: string, want: 'string' | 'object', required: boolean): string | undefined {
  const value = body[key];
  if (value === undefined) return required ? `${key} is missing` : undefined;
  const ok = want === 'string' ? typeof value === 'string' : isObject(value);
  return ok ? undefined : `${key} is ${kindOf(value)}, not ${want === 'string' ? 'a string' : 'an object'}`;
}

/** `user` must be an object naming a user: Bolt reads `user.id`, and there is nobody to answer without one. */
function userProblem(body: Fields): string | undefined {
  if (!isObject(body.user)) return body.user === undefined ? 'user is missing' : `user is ${kindOf(body.user)}, not an object`;
  return typeof body.user.id === 'string' && body.user.id ? undefined : 'user has no id';
}

/** `channel`, when present, must be an object with an id (Bolt reads `channel.id` of anything but undefined). */
function channelProblem(body: Fields): string | undefined {
  if (body.channel === undefined) return undefined;
  if (!isObject(body.channel)) return `channel is ${kindOf(body.channel)}, not an object`;
  return typeof body.channel.id === 'string' ? undefined : 'channel has no id';
}

function actionsProblem(body: Fields): string | undefined {
  const { actions } = body;
  if (actions === undefined) return body.type === 'block_actions' ? 'actions is missing' : undefined;
  if (!Array.isArray(actions)) return `actions is ${kindOf(actions)}, not an array`;
  if (!actions.length) return 'actions is empty';
  for (let i = 0; i < actions.length; i++) {
    const action: unknown = actions[i];
    if (!isObject(action)) return `actions[${i}] is ${kindOf(action)}, not an object`;
    if (body.type === 'block_actions' && typeof action.action_id !== 'string') return `actions[${i}].action_id is ${action.action_id === undefined ? 'missing' : `${kindOf(action.action_id)}, not a string`}`;
    if (action.action_id !== undefined && typeof action.action_id !== 'string') return `actions[${i}].action_id is ${kindOf(action.action_id)}, not a string`;
    if (action.block_id !== undefined && typeof action.block_id !== 'string') return `actions[${i}].block_id is ${kindOf(action.block_id)}, not a string`;
  }
  return undefined;
}

function messageProblem(body: Fields): string | undefined {
  if (body.message === undefined) return undefined;
  if (!isObject(body.message)) return `message is ${kindOf(body.message)}, not an object`;
  const { blocks } = body.message;
  return blocks === undefined || Array.isArray(blocks) ? undefined : `message.blocks is ${kindOf(blocks)}, not an array`;
}

/** A slash command: Bolt takes any `command`; scalebot's listener reads these as strings. */
function commandProblem(body: Fields): string | undefined {
  return (
    mustBe(body, 'command', 'string', true) ??
    mustBe(body, 'user_id', 'string', true) ??
    mustBe(body, 'channel_id', 'string', true) ??
    mustBe(body, 'text', 'string', false) ??
    mustBe(body, 'response_url', 'string', false) ??
    mustBe(body, 'trigger_id', 'string', false)
  );
}

/** An interaction (block_actions and the other payloads Bolt routes by `actions`, `name` or `type`). */
function interactionProblem(body: Fields): string | undefined {
  const problem = userProblem(body) ?? channelProblem(body) ?? actionsProblem(body) ?? messageProblem(body) ?? mustBe(body, 'response_url', 'string', false);
  if (problem) return problem;
  // Controls live on channel messages: an answer goes to the channel or to the response_url.
  if (body.type === 'block_actions' && body.channel === undefined && body.response_url === undefined) return 'the payload names neither a channel nor a response_url to answer';
  return undefined;
}

/**
 * What is wrong with a parsed request body, in a few words; undefined when it has the shape Bolt
 * and the listeners read. `source` says how it was parsed (Bolt's parseHTTPRequestBody).
 */
export function slackBodyProblem(body: unknown, source: BodySource): string | undefined {
  if (!isObject(body)) return `the ${source === 'payload' ? 'payload' : 'body'} is ${kindOf(body)}, not an object`;
  if (source === 'form') {
    // A field sent twice is parsed as an array: no Slack request does that.
    const twice = Object.keys(body).find((key) => Array.isArray(body[key]));
    if (twice !== undefined) return `the form field ${quoteKey(twice)} is sent more than once`;
  }
  if (body.ssl_check === '1' || body.type === 'url_verification') return undefined;
  // The order Bolt decides the kind of a request in (helpers.ts, getTypeAndConversation).
  if (body.event !== undefined) return isObject(body.event) ? undefined : `event is ${kindOf(body.event)}, not an object`;
  if (body.command !== undefined) return commandProblem(body);
  if (body.name !== undefined || body.type === 'block_suggestion' || body.actions !== undefined || body.type === 'dialog_submission' || body.type === 'shortcut' || body.type === 'message_action') {
    return interactionProblem(body);
  }
  if (body.type === 'view_submission' || body.type === 'view_closed') return mustBe(body, 'view', 'object', true) ?? userProblem(body);
  if (body.type === 'block_actions') return 'actions is missing';
  // Anything else is no kind of request Bolt knows: it would log that and leave it unanswered (a 404 after 3 s).
  return 'it is not a slash command, an interaction or an event';
}
