/** Produce results ↔ the `RecordPosition` list of ProduceResponse / PublishedFrame. */
import { GatewayError } from '../../gateway/errors.js';
import type { ProduceResult } from '../../gateway/record.js';
import type { RecordPosition } from '../../proto/gen/ts/streamgate/v1/RecordPosition.js';

/** One position per record, in request order (only call when every record was written). */
export function producedPositions(results: readonly ProduceResult[]): RecordPosition[] {
  return results.map((r) => {
    if (!r.ok) throw new GatewayError('INTERNAL', 'producedPositions called with a failed result.');
    return { partition: r.partition, offset: r.offset.toString(), timestamp: String(r.timestamp) };
  });
}

/**
 * The error to report when some record of a batch was not written, or undefined when all were.
 * The response has no room for per-record failures, so the call fails with the first failure's
 * code and the details name exactly which records WERE written (index → partition/offset), so a
 * client retrying the rest neither loses nor duplicates anything.
 */
export function produceFailure(results: readonly ProduceResult[]): GatewayError | undefined {
  const firstFailed = results.findIndex((r) => !r.ok);
  if (firstFailed < 0) return undefined;
  const failed = results[firstFailed]!;
  if (failed.ok) return undefined;
  const written: Record<string, string> = {};
  results.forEach((r, i) => {
    if (r.ok) written[String(i)] = `${r.partition}/${r.offset}`;
  });
  return new GatewayError(failed.error.code, `Record ${firstFailed} of the batch was not written: ${failed.error.message}`, {
    cause: failed.error,
    details: { failed: results.filter((r) => !r.ok).length, written },
  });
}
