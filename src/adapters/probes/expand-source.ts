// `${VAR}` placeholders in a source's URL and header values, expanded at measure time so a secret
// lives in the environment, not in the catalog. A value put into a URL's userinfo is percent-encoded
// (a password with "@" or "/" would otherwise break the URL); elsewhere it goes in as is, so a whole
// URL can come from one variable (`url: ${DATABASE_URL}`).
import type { SourceConfig } from '../../config/catalog.ts';
import { Unmeasurable } from '../../ports/probe.port.ts';

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** Before the placeholder: "scheme://" and userinfo so far; after it: the rest of userinfo, then "@". */
const IN_USERINFO_BEFORE = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@]*$/i;
const IN_USERINFO_AFTER = /^[^/?#@]*@/;

type Env = Record<string, string | undefined>;

/** `what` is how the message names the text: "its url", "its header authorization". */
function expand(text: string, env: Env, what: string, isUrl: boolean): string {
  return text.replace(PLACEHOLDER, (_match, name: string, offset: number) => {
    const value = env[name];
    if (value === undefined) {
      throw new Unmeasurable(`${what} needs the environment variable ${name}, which is not set; set it where the bot runs`);
    }
    const inUserinfo = isUrl && IN_USERINFO_BEFORE.test(text.slice(0, offset)) && IN_USERINFO_AFTER.test(text.slice(offset + _match.length));
    return inUserinfo ? encodeURIComponent(value) : value;
  });
}

/** The source with its placeholders filled from `env`; Unmeasurable naming a missing variable. */
export function expandSource<S extends SourceConfig>(source: S, env: Env): S {
  const url = expand(source.url, env, 'its url', true);
  if (source.kind !== 'http' || !source.headers) return { ...source, url };
  const headers = Object.fromEntries(Object.entries(source.headers).map(([name, value]) => [name, expand(value, env, `its header ${name}`, false)]));
  return { ...source, url, headers };
}
