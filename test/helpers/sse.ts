/** A GraphQL subscription over server-sent events, read event by event, through any fetch. */

export interface Subscription {
  /** The next `count` payloads of `next` events; fails if the stream ends first. */
  next(count: number): Promise<unknown[]>;
  /** The payloads left until the stream ends, and whether it ended with a `complete` event. */
  rest(): Promise<{ payloads: unknown[]; completed: boolean }>;
  close(): void;
}

/**
 * Sends the subscription and waits for the stream's first bytes (graphql-yoga starts every stream with a
 * comment), by which time the server has subscribed to its change feed.
 */
export async function openSubscription(
  fetchFn: (url: string, init: RequestInit) => Promise<Response>,
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Subscription> {
  const controller = new AbortController();
  const response = await fetchFn(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  if (response.status !== 200 || !response.body) {
    throw new Error(`the subscription was refused: ${response.status} ${await response.text()}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let completed = false;
  /** The next event, or undefined at the end of the stream; comments (pings) are skipped. */
  async function event(): Promise<{ event: string; data: string } | undefined> {
    for (;;) {
      const boundary = buffer.indexOf('\n\n');
      if (boundary >= 0) {
        const lines = buffer.slice(0, boundary).split('\n');
        buffer = buffer.slice(boundary + 2);
        const field = (name: string) =>
          lines
            .find((line) => line.startsWith(`${name}:`))
            ?.slice(name.length + 1)
            .trimStart();
        const name = field('event');
        if (name === undefined) continue;
        return { event: name, data: field('data') ?? '' };
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffer += value;
    }
  }
  // The first comment: the stream is open.
  while (!buffer.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
  }
  async function payload(): Promise<unknown | undefined> {
    for (;;) {
      const next = await event();
      if (!next) return undefined;
      if (next.event === 'complete') completed = true;
      if (next.event === 'next') return JSON.parse(next.data);
    }
  }
  return {
    async next(count) {
      const payloads: unknown[] = [];
      while (payloads.length < count) {
        const value = await payload();
        if (value === undefined) throw new Error(`the stream ended after ${payloads.length} of ${count}`);
        payloads.push(value);
      }
      return payloads;
    },
    async rest() {
      const payloads: unknown[] = [];
      for (let value = await payload(); value !== undefined; value = await payload()) payloads.push(value);
      return { payloads, completed };
    },
    close: () => controller.abort(),
  };
}
