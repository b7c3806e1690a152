/** Raw HTTP for tests that need a request to stay in flight. */
import net from 'node:net';

/** Sends a POST whose body arrives only when `finish` is called, to hold a request in flight. */
export function heldRequest(url: string, token: string, body: string) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.write(
    [
      'POST /graphql HTTP/1.1',
      `Host: ${hostname}:${port}`,
      'Content-Type: application/json',
      `Authorization: Bearer ${token}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
      '',
      '',
    ].join('\r\n'),
  );
  let response = '';
  socket.on('data', (chunk) => {
    response += chunk;
  });
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(response)));
  // write, not end: a client that half-closes its socket has its request aborted by node:http.
  return { finish: () => socket.write(body), abandon: () => socket.destroy(), response: closed };
}
