// The shapes a signed request body must have before Bolt reads it (src/adapters/slack/request-shape.ts).
import { describe, expect, it } from 'vitest';
import { slackBodyProblem } from '../../../src/adapters/slack/request-shape.ts';

const command = (fields: Record<string, unknown> = {}) => ({
  token: 'legacy',
  team_id: 'T0TEAM',
  channel_id: 'C0INFRA',
  user_id: 'U0ALICE',
  command: '/scale',
  text: 'help',
  response_url: 'https://hooks.slack.test/commands/1',
  trigger_id: 'trigger.1',
  ...fields,
});

const click = (change: (p: Record<string, unknown>) => void = () => undefined): Record<string, unknown> => {
  const payload: Record<string, unknown> = {
    type: 'block_actions',
    team: { id: 'T0TEAM' },
    user: { id: 'U0ALICE', team_id: 'T0TEAM' },
    channel: { id: 'C0INFRA' },
    message: { ts: '1.2', blocks: [] },
    response_url: 'https://hooks.slack.test/actions/1',
    actions: [{ type: 'button', action_id: 'scalebot_approve', block_id: 'buttons|run-abcd', value: '{}', action_ts: '1.3' }],
  };
  change(payload);
  return payload;
};

describe('slackBodyProblem', () => {
  it('takes what Slack sends: a slash command, a click, ssl_check, url_verification', () => {
    expect(slackBodyProblem(command(), 'form')).toBeUndefined();
    expect(slackBodyProblem(command({ text: '' }), 'form')).toBeUndefined();
    expect(slackBodyProblem(click(), 'payload')).toBeUndefined();
    expect(slackBodyProblem({ ssl_check: '1', token: 'x' }, 'form')).toBeUndefined();
    expect(slackBodyProblem({ type: 'url_verification', challenge: 'abc' }, 'json')).toBeUndefined();
  });

  it('refuses a body that is not an object (Bolt reads body.ssl_check of a null body and never answers)', () => {
    expect(slackBodyProblem(null, 'json')).toBe('the body is null, not an object');
    expect(slackBodyProblem(null, 'payload')).toBe('the payload is null, not an object');
    expect(slackBodyProblem([1, 2, 3], 'json')).toBe('the body is an array, not an object');
    expect(slackBodyProblem('a string', 'json')).toBe('the body is a string, not an object');
    expect(slackBodyProblem(12345, 'payload')).toBe('the payload is a number, not an object');
  });

  it('refuses a form field sent twice', () => {
    expect(slackBodyProblem(command({ text: ['help', 'status'] }), 'form')).toBe('the form field "text" is sent more than once');
    expect(slackBodyProblem({ payload: ['{}', '{}'] }, 'form')).toBe('the form field "payload" is sent more than once');
  });

  it('refuses a body that is no kind of request Bolt knows', () => {
    expect(slackBodyProblem({}, 'json')).toBe('it is not a slash command, an interaction or an event');
    expect(slackBodyProblem({ a: '1', b: '2' }, 'form')).toBe('it is not a slash command, an interaction or an event');
    expect(slackBodyProblem({ type: 'block_actions' }, 'payload')).toBe('actions is missing');
  });

  it('refuses a slash command without a user or a channel, or with fields of the wrong type', () => {
    expect(slackBodyProblem(command({ user_id: undefined }), 'form')).toBe('user_id is missing');
    expect(slackBodyProblem(command({ channel_id: undefined }), 'form')).toBe('channel_id is missing');
    expect(slackBodyProblem(command({ text: 5 }), 'json')).toBe('text is a number, not a string');
    expect(slackBodyProblem(command({ command: 5 }), 'json')).toBe('command is a number, not a string');
    expect(slackBodyProblem(command({ response_url: { url: 'x' } }), 'json')).toBe('response_url is an object, not a string');
    // A command without response_url is answered with an ephemeral in its channel.
    expect(slackBodyProblem(command({ response_url: undefined }), 'form')).toBeUndefined();
  });

  it('refuses clicks whose actions are not a list of actions (Bolt answers them 500)', () => {
    expect(slackBodyProblem(click((p) => (p.actions = 'scalebot_approve')), 'payload')).toBe('actions is a string, not an array');
    expect(slackBodyProblem(click((p) => (p.actions = 5)), 'payload')).toBe('actions is a number, not an array');
    expect(slackBodyProblem(click((p) => (p.actions = { action_id: 'x' })), 'payload')).toBe('actions is an object, not an array');
    expect(slackBodyProblem(click((p) => (p.actions = [])), 'payload')).toBe('actions is empty');
    expect(slackBodyProblem(click((p) => (p.actions = [null])), 'payload')).toBe('actions[0] is null, not an object');
    expect(slackBodyProblem(click((p) => (p.actions = [{ action_id: 'a' }, 5])), 'payload')).toBe('actions[1] is a number, not an object');
    expect(slackBodyProblem(click((p) => ((p.actions as Record<string, unknown>[])[0]!.action_id = 42)), 'payload')).toBe('actions[0].action_id is a number, not a string');
    expect(slackBodyProblem(click((p) => delete (p.actions as Record<string, unknown>[])[0]!.action_id), 'payload')).toBe('actions[0].action_id is missing');
    expect(slackBodyProblem(click((p) => ((p.actions as Record<string, unknown>[])[0]!.block_id = ['x'])), 'payload')).toBe('actions[0].block_id is an array, not a string');
  });

  it('refuses clicks that name no user (Bolt reads user.id; there is nobody to answer)', () => {
    expect(slackBodyProblem(click((p) => delete p.user), 'payload')).toBe('user is missing');
    expect(slackBodyProblem(click((p) => (p.user = null)), 'payload')).toBe('user is null, not an object');
    expect(slackBodyProblem(click((p) => (p.user = 'U0ALICE')), 'payload')).toBe('user is a string, not an object');
    expect(slackBodyProblem(click((p) => (p.user = { name: 'alice' })), 'payload')).toBe('user has no id');
    expect(slackBodyProblem(click((p) => (p.user = { id: 7 })), 'payload')).toBe('user has no id');
  });

  it('takes a click without a channel when it has a response_url to answer on', () => {
    expect(slackBodyProblem(click((p) => delete p.channel), 'payload')).toBeUndefined();
    expect(slackBodyProblem(click((p) => { delete p.channel; delete p.response_url; }), 'payload')).toBe('the payload names neither a channel nor a response_url to answer');
    expect(slackBodyProblem(click((p) => (p.channel = null)), 'payload')).toBe('channel is null, not an object');
    expect(slackBodyProblem(click((p) => (p.channel = { name: 'x' })), 'payload')).toBe('channel has no id');
  });

  it('refuses a click whose message blocks are not a list', () => {
    expect(slackBodyProblem(click((p) => (p.message = 'hello')), 'payload')).toBe('message is a string, not an object');
    expect(slackBodyProblem(click((p) => (p.message = { ts: '1', blocks: {} })), 'payload')).toBe('message.blocks is an object, not an array');
  });

  it('checks the other kinds Bolt routes: events, views, shortcuts and options', () => {
    expect(slackBodyProblem({ type: 'event_callback', event: 'x' }, 'json')).toBe('event is a string, not an object');
    expect(slackBodyProblem({ type: 'event_callback', event: { type: 'app_mention' } }, 'json')).toBeUndefined();
    expect(slackBodyProblem({ type: 'view_submission', user: { id: 'U1' } }, 'payload')).toBe('view is missing');
    expect(slackBodyProblem({ type: 'shortcut', user: null }, 'payload')).toBe('user is null, not an object');
    expect(slackBodyProblem({ type: 'block_suggestion', user: { id: 'U1' }, channel: null }, 'payload')).toBe('channel is null, not an object');
  });

  it('never quotes more than a short, printable piece of a key', () => {
    const problem = slackBodyProblem({ [`${'k'.repeat(100)}\u0000`]: ['a', 'b'] }, 'form')!;
    expect(problem.length).toBeLessThan(100);
    expect(problem).toMatch(/^[\x20-\x7e]+$/);
  });
});
