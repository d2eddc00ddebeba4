// Helpers shared by the bounded "latest slice" tables (candles, articles).
//
// Every slice keeps a row in `sliceCounts` with the number of documents it holds, so that
// pruning to `keep` never has to read the whole slice: a steady-state upsert reads the
// counter, the incoming keys, and only the documents it is about to delete. That is what
// keeps the free plan's monthly DB I/O small (see README.md).
import { ConvexError } from "convex/values";
import type { Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";

export type UpsertStats = {
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
};

export const emptyStats = (): UpsertStats => ({ inserted: 0, updated: 0, unchanged: 0, deleted: 0 });

export const KEEP_MAX = 5000;

/** Throws unless `keep` is an integer in 1..KEEP_MAX. */
export function checkKeep(keep: number): void {
  if (!Number.isInteger(keep) || keep < 1 || keep > KEEP_MAX) {
    throw new ConvexError(`keep must be an integer in 1..${KEEP_MAX}, got ${keep}`);
  }
}

/** `limit` -> an integer in 1..max (default when absent); rejects non-integers and values < 1. */
export function clampLimit(limit: number | undefined, dflt: number, max: number): number {
  if (limit === undefined) return dflt;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ConvexError(`limit must be a positive integer, got ${limit}`);
  }
  return Math.min(limit, max);
}

export function checkFinite(what: string, x: number): void {
  if (!Number.isFinite(x)) throw new ConvexError(`${what} must be a finite number, got ${x}`);
}

/**
 * The counter row for `key`; when it is missing (first write, or someone deleted it to force
 * a recount after editing rows by hand) it is created from `recount()`.
 */
export async function loadCounter(
  ctx: MutationCtx,
  key: string,
  recount: () => Promise<number>,
): Promise<{ id: Id<"sliceCounts">; count: number }> {
  const row = await ctx.db
    .query("sliceCounts")
    .withIndex("by_key", (q) => q.eq("key", key))
    .unique();
  if (row !== null) return { id: row._id, count: row.count };
  const count = await recount();
  const id = await ctx.db.insert("sliceCounts", { key, count });
  return { id, count };
}

export async function saveCounter(
  ctx: MutationCtx,
  counter: { id: Id<"sliceCounts">; count: number },
  count: number,
): Promise<void> {
  if (count !== counter.count) await ctx.db.patch(counter.id, { count });
}

/**
 * Decides which documents fall out of a slice that keeps the `keep` newest by some sort key.
 *
 * `oldestExisting` are the `toDrop` oldest stored documents (ascending), `incoming` the new
 * (not yet stored) items (ascending); `toDrop` = stored + incoming - keep. The `toDrop` oldest
 * of the union are evicted. On equal keys a stored document is kept and the incoming item
 * dropped, so a tie never causes a write.
 */
export function evict<E, N>(
  toDrop: number,
  oldestExisting: E[],
  existingKey: (e: E) => number,
  incoming: N[],
  incomingKey: (n: N) => number,
): { dropExisting: E[]; dropIncoming: Set<N> } {
  const dropExisting: E[] = [];
  const dropIncoming = new Set<N>();
  let i = 0;
  let j = 0;
  while (dropExisting.length + dropIncoming.size < toDrop) {
    const e = i < oldestExisting.length ? oldestExisting[i] : undefined;
    const n = j < incoming.length ? incoming[j] : undefined;
    if (e === undefined && n === undefined) break;
    if (n === undefined || (e !== undefined && existingKey(e) < incomingKey(n))) {
      dropExisting.push(e as E);
      i++;
    } else {
      dropIncoming.add(n);
      j++;
    }
  }
  return { dropExisting, dropIncoming };
}
