/** A scan file's bytes as the readers need them: UTF-8 text in chunks, numbered lines, a digest. */
import { createHash } from 'node:crypto';
import type { ScanFileSource } from '../scan-file.ts';

/** Decodes a byte stream as UTF-8; a character split between two chunks is decoded whole. */
export async function* decodeUtf8(bytes: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of bytes) {
    const text = decoder.decode(chunk, { stream: true });
    if (text) yield text;
  }
  const rest = decoder.decode();
  if (rest) yield rest;
}

export interface TextLine {
  /** The line without its end ("\n" or "\r\n"). */
  text: string;
  /** 1-based. */
  line: number;
}

/** The lines of a byte stream, one at a time, so a file is never held whole. */
export async function* textLines(bytes: AsyncIterable<Uint8Array>): AsyncGenerator<TextLine> {
  let carried = '';
  let line = 0;
  const ended = (text: string): TextLine => {
    line += 1;
    return { text: text.endsWith('\r') ? text.slice(0, -1) : text, line };
  };
  for await (const chunk of decodeUtf8(bytes)) {
    const text = carried + chunk;
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      yield ended(text.slice(start, end));
      start = end + 1;
    }
    carried = text.slice(start);
  }
  if (carried !== '') yield ended(carried);
}

/** sha256 hex of a source's bytes, read as a stream. */
export async function sourceDigest(source: ScanFileSource): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of source.open()) hash.update(chunk);
  return hash.digest('hex');
}
