/** REQUEST_MAX_BYTES and UPLOAD_MAX_BYTES, enforced before a body is read. */
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';
import { clientError, refusal } from '../errors.ts';

/**
 * Refuses bodies over the limit before they are read: JSON requests by REQUEST_MAX_BYTES, multipart
 * uploads (scan files) by UPLOAD_MAX_BYTES. A body without a length is cut off once it passes the limit.
 */
export function useRequestSizeLimit(config: Config): Plugin {
  return {
    onRequest({ request, setRequest, endResponse, fetchAPI }) {
      if (!request.body) return;
      const multipart = request.headers.get('content-type')?.startsWith('multipart/') ?? false;
      // The multipart envelope (boundaries, the operations part) needs a little room beside the file.
      const limit = multipart ? config.ingest.uploadMaxBytes + 1024 * 1024 : config.limits.requestMaxBytes;
      const message = `the request body is larger than ${limit} bytes`;
      const tooLarge = () => clientError('REQUEST_TOO_LARGE', message, { limit });
      const length = request.headers.get('content-length');
      if (length !== null) {
        if (Number(length) > limit) {
          // Answered here, before yoga reads the body.
          const { body, status, headers } = refusal('REQUEST_TOO_LARGE', message, { limit });
          endResponse(new fetchAPI.Response(body, { status, headers }));
        }
        return;
      }
      let seen = 0;
      const counted = request.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            seen += chunk.byteLength;
            if (seen > limit) controller.error(tooLarge());
            else controller.enqueue(chunk);
          },
        }),
      );
      const replaced = new fetchAPI.Request(request.url, {
        method: request.method,
        headers: request.headers,
        signal: request.signal,
        body: counted,
        duplex: 'half',
      } as RequestInit);
      setRequest(replaced);
    },
  };
}
