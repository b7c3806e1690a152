/** Dataloader batches: each one a span when the gateway traces. */
import type { GatewayContext } from '../context.ts';

/** Runs the batch of `keys` keys that loader `name` collected, inside a span of its own when tracing. */
export function inBatch<R>(
  context: GatewayContext,
  name: string,
  keys: number,
  load: () => Promise<R>,
): Promise<R> {
  if (!context.tracing) return load();
  return context.tracing.inSpan(
    `batch ${name}`,
    { attributes: { 'exposure_gateway.batch.keys': keys } },
    load,
  );
}
