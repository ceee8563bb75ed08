// The environment contract (PRODUCT.md). A missing variable stops start-up, naming each one and
// where to get it.
import { z } from 'zod';

const WHERE: Record<string, string> = {
  SLACK_BOT_TOKEN: 'the Bot User OAuth Token (xoxb-…): Slack app settings → OAuth & Permissions, after installing the app to the workspace',
  SLACK_SIGNING_SECRET: 'HTTP mode: Slack app settings → Basic Information → App Credentials → Signing Secret (or set SLACK_APP_TOKEN for Socket Mode)',
  SLACK_APP_TOKEN: 'Socket Mode: an app-level token (xapp-…) with connections:write, from Basic Information → App-Level Tokens',
  SCALEBOT_CONFIG: 'the path of the service catalog YAML (see README "The catalog"; examples/catalog.yml is a start)',
};

const envSchema = z.object({
  SLACK_BOT_TOKEN: z.string().regex(/^xox[bp]-/, 'must be a bot token starting with xoxb-'),
  SLACK_SIGNING_SECRET: z.string().min(8).optional(),
  SLACK_APP_TOKEN: z.string().regex(/^xapp-/, 'must be an app-level token starting with xapp-').optional(),
  SLACK_API_URL: z.url().optional(),
  SCALEBOT_CONFIG: z.string().min(1),
  KUBECONFIG: z.string().optional(),
  REDIS_URL: z.string().optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.output<typeof envSchema>;

export type EnvResult = { ok: true; env: Env } | { ok: false; problems: string[] };

export function readEnv(source: NodeJS.ProcessEnv): EnvResult {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const problems: string[] = [];
  for (const name of ['SLACK_BOT_TOKEN', 'SCALEBOT_CONFIG']) {
    if (!cleaned[name]) problems.push(`${name} is not set: ${WHERE[name]}`);
  }
  if (!cleaned.SLACK_APP_TOKEN && !cleaned.SLACK_SIGNING_SECRET) {
    problems.push(`neither SLACK_SIGNING_SECRET (HTTP mode) nor SLACK_APP_TOKEN (Socket Mode) is set: ${WHERE.SLACK_SIGNING_SECRET}; ${WHERE.SLACK_APP_TOKEN}`);
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      if (problems.some((p) => p.startsWith(`${name} `))) continue;
      // Never echo the value: it may be a secret.
      problems.push(`${name} is invalid: ${issue.message}`);
    }
  }
  if (problems.length || !parsed.success) return { ok: false, problems };
  return { ok: true, env: parsed.data };
}
