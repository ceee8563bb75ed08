// pino JSON logs; tokens, secrets and connection strings are redacted wherever they appear.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'token', '*.token', 'botToken', 'appToken', 'signingSecret', '*.signingSecret', 'authorization', '*.authorization',
  'headers.authorization', 'req.headers.authorization', 'req.headers["x-slack-signature"]', 'password', '*.password',
  'REDIS_URL', 'redisUrl', 'SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET',
];

const SECRET_PATTERNS: RegExp[] = [/xox[abposr]-[A-Za-z0-9-]+/g, /xapp-[A-Za-z0-9-]+/g, /(redis|rediss|postgres|postgresql):\/\/[^@\s]*@/g];

/** Removes tokens and credentials from free text (error messages can carry them). */
export function scrub(text: string): string {
  return SECRET_PATTERNS.reduce((t, re) => t.replace(re, '[redacted]'), text);
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'scalebot' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as typeof args;
          return method.apply(this, scrubbed);
        },
      },
    },
    destination,
  );
}
