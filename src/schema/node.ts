/** Relay plumbing shared by the node types: page arguments and connections from repository pages. */
import type { ArgBuilder } from '@pothos/core';
import type { Page } from '../db/repositories/pagination.ts';
import type { builder } from './builder.ts';

type Types = typeof builder.$inferSchemaTypes;

/** first/after for forward paging. */
export function forwardPageArgs(arg: ArgBuilder<Types>) {
  return {
    first: arg.int({ description: 'Page size when paging forward (default 50, at most 500).' }),
    after: arg.string({
      description: 'Return the nodes after this cursor (an endCursor of this connection).',
    }),
  };
}

/** first/after and last/before: Relay paging in both directions. */
export function pageArgs(arg: ArgBuilder<Types>) {
  return {
    ...forwardPageArgs(arg),
    last: arg.int({ description: 'Page size when paging backward (default 50, at most 500).' }),
    before: arg.string({
      description: 'Return the nodes before this cursor (a startCursor of this connection).',
    }),
  };
}

/** A loader that runs the first time it is called; later calls share its promise. */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load();
    return loaded;
  };
}

/** The connection for a page: `cursorOf` gives each node's cursor, `totalCount` is counted only when selected. */
export function connectionOf<Node>(
  page: Page<Node>,
  cursorOf: (node: Node) => string,
  totalCount: () => Promise<number>,
) {
  const edges = page.rows.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    // Aliases may select totalCount twice: count once.
    totalCount: once(totalCount),
  };
}
