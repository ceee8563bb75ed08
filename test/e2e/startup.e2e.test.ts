// `npm start` refuses to run half-configured: each missing variable or catalog problem is named.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/bot-process.ts';

function start(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

describe('start-up', () => {
  it('names every missing variable and where to get it, and exits non-zero', () => {
    const { code, out } = start({});
    expect(code).not.toBe(0);
    expect(out).toContain('SLACK_BOT_TOKEN is not set: the Bot User OAuth Token (xoxb-…)');
    expect(out).toContain('SCALEBOT_CONFIG is not set');
    expect(out).toContain('neither SLACK_SIGNING_SECRET (HTTP mode) nor SLACK_APP_TOKEN (Socket Mode) is set');
  });

  it('refuses a malformed token without echoing it', () => {
    const { code, out } = start({ SLACK_BOT_TOKEN: 'not-a-token-secret-value', SLACK_SIGNING_SECRET: 'abcdefghijk', SCALEBOT_CONFIG: 'examples/catalog.yml' });
    expect(code).not.toBe(0);
    expect(out).toContain('SLACK_BOT_TOKEN is invalid: must be a bot token starting with xoxb-');
    expect(out).not.toContain('not-a-token-secret-value');
  });

  it('lists every catalog problem with its file and path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scalebot-catalog-'));
    const file = join(dir, 'catalog.yml');
    writeFileSync(file, [
      'channel: C0INFRA',
      'services:',
      '  api-gateway:',
      '    target: { kind: kubernetes, namespace: prod, deployment: api-gateway }',
      '    limits: { min: 10, max: 5 }',
      '  Bad_Name:',
      '    target: { kind: lambda }',
      '    limits: { min: 1, max: 2 }',
    ].join('\n'));
    const { code, out } = start({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'abcdefghijk', SCALEBOT_CONFIG: file });
    expect(code).not.toBe(0);
    expect(out).toContain(`${file}:5: services.api-gateway.limits.min: min (10) is above max (5)`);
    expect(out).toContain('services.Bad_Name: "Bad_Name" is not a valid service name');
    expect(out).toContain('services.Bad_Name.target.kind');
  });

  it('the catalog in PRODUCT.md loads as is', () => {
    // Fails later (no cluster, no Slack) but not on configuration.
    const { out } = start({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'abcdefghijk', SCALEBOT_CONFIG: 'examples/catalog.yml', SLACK_API_URL: 'http://127.0.0.1:9/api/', KUBECONFIG: '/nonexistent', PORT: '0', SCALEBOT_SLACK_RETRIES: '0' });
    expect(out).not.toContain('catalog or a runbook is invalid');
  });
});
