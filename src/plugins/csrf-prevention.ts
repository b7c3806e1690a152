/** CSRF prevention: a non-JSON request must carry a header a browser form cannot set. */
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { Plugin } from 'graphql-yoga';
import { clientError } from '../errors.ts';

/** yoga's CSRF prevention, with a coded error that names the header to send. */
export function useCsrfPrevention(): Plugin {
  const header = 'x-graphql-yoga-csrf';
  const csrf = useCSRFPrevention({ requestHeaders: [header] });
  return {
    onRequestParse(payload) {
      try {
        return csrf.onRequestParse?.(payload);
      } catch {
        throw clientError(
          'CSRF_HEADER_REQUIRED',
          `a GET, form or multipart request must carry the header "${header}" (any value), or be a JSON POST`,
        );
      }
    },
  };
}
