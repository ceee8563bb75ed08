// Keeping secrets out of what probes say. A source's URL may carry a password (userinfo) or a token
// (query string), an HTTP source's headers an API key: none of these may reach a summary, a detail
// line, an error message or `source`. Labels are built without them, and every text a probe returns
// is scrubbed of their values as a second line of defence (a driver's error may quote its input).
import type { SourceConfig } from '../../config/catalog.ts';

/** The URL without userinfo, and with "?…" in place of a query string: safe to show. */
export function safeUrl(url: URL): string {
  const path = url.pathname === '/' ? '' : url.pathname;
  const host = url.host || url.searchParams.get('host') || 'localhost';
  return `${url.protocol}//${host}${path}${url.search ? '?…' : ''}`;
}

/** Parses a source URL; the message never echoes the (possibly secret-bearing) text. */
export function parseSourceUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new Error('its url is not a valid URL (e.g. "postgres://app:${DB_PASSWORD}@db:5432/app")');
  }
}

const MIN_SECRET_LENGTH = 3;

/** The values in an expanded source that must never be shown. */
export function secretsOf(source: SourceConfig): string[] {
  const secrets = new Set<string>();
  const add = (value: string) => {
    if (value.length < MIN_SECRET_LENGTH) return;
    secrets.add(value);
    try {
      secrets.add(decodeURIComponent(value));
    } catch {
      // not percent-encoded: the raw value is enough
    }
  };
  try {
    const url = new URL(source.url);
    add(url.password);
    for (const value of url.searchParams.values()) add(value);
  } catch {
    // an unparseable URL is never shown, so there is nothing to scrub from it
  }
  if (source.kind === 'http') for (const value of Object.values(source.headers ?? {})) add(value);
  // Longest first, so a secret containing another is replaced whole.
  return [...secrets].sort((a, b) => b.length - a.length);
}

/** `text` with every secret replaced by "***". */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
