// The engine writes its notes in chat markdown (bold, code, mentions). These helpers keep that in
// one place and make sure text a person typed can never become markup or a mention.

export function mention(user: string): string {
  return `<@${user}>`;
}

/** Mentions a user (U…) or a user group (S…). */
export function mentionAny(id: string): string {
  return id.startsWith('S') ? `<!subteam^${id}>` : `<@${id}>`;
}

/** Text a person typed, made inert: no links, mentions or broadcasts. */
export function plain(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
