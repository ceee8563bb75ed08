// Errors from fetch, pg and ioredis, told in a few words: "connect ECONNREFUSED", "getaddrinfo
// ENOTFOUND", or the server's own message. Socket errors hide their cause a level or two down
// (fetch's "fetch failed", pg's AggregateError for a host with several addresses).
export function describeError(error: unknown): string {
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    if (current instanceof AggregateError && current.errors.length) current = current.errors[0];
    if (!(current instanceof Error)) break;
    const { code, syscall } = current as NodeJS.ErrnoException;
    if (code && syscall) return `${syscall} ${code}`;
    if (current.cause === undefined) return current.message || code || current.name;
    current = current.cause;
  }
  return error instanceof Error ? error.message || error.name : String(error);
}
