// fetch refuses URLs with userinfo ("https://user:pass@prom/"): move it into an Authorization header.

export interface Endpoint {
  url: URL;
  headers: Record<string, string>;
}

export function basicAuth(source: URL): Endpoint {
  const url = new URL(source);
  if (!url.username && !url.password) return { url, headers: {} };
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return { url, headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` } };
}
