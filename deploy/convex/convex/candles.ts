// The candle slice: the newest `keep` bars per (ticker, tf). TimescaleDB holds the full history;
// the Python side pushes the latest bars here with `candles:upsertLatest` (internal, deploy key)
// and the web UI reads them with the public `candles:latest` / `candles:before` queries.
import { ConvexError, v } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { internalMutation, query, type MutationCtx, type QueryCtx } from "./_generated/server";
import { tfValidator } from "./schema";
import {
  checkFinite,
  checkKeep,
  clampLimit,
  emptyStats,
  evict,
  loadCounter,
  saveCounter,
  type UpsertStats,
} from "./lib/slice";

export const LATEST_DEFAULT_LIMIT = 500;
export const LATEST_MAX_LIMIT = 1000;

const barValidator = v.object({
  ts: v.number(),
  o: v.number(),
  h: v.number(),
  l: v.number(),
  c: v.number(),
  v: v.union(v.number(), v.null()),
  source: v.union(v.string(), v.null()),
});

const seriesValidator = v.object({
  ticker: v.string(),
  tf: tfValidator,
  bars: v.array(barValidator),
});

type Tf = Doc<"candles">["tf"];
type Bar = {
  ts: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number | null;
  source: string | null;
};

/** What the queries return: one bar, without the series key or Convex's system fields. */
const toBar = (d: Doc<"candles">): Bar => ({
  ts: d.ts,
  o: d.o,
  h: d.h,
  l: d.l,
  c: d.c,
  v: d.v ?? null,
  source: d.source,
});

const sameBar = (d: Doc<"candles">, b: Bar): boolean =>
  d.o === b.o &&
  d.h === b.h &&
  d.l === b.l &&
  d.c === b.c &&
  (d.v ?? null) === b.v &&
  d.source === b.source;

const counterKey = (ticker: string, tf: Tf) => `candles|${ticker}|${tf}`;

const seriesQuery = (ctx: QueryCtx | MutationCtx, ticker: string, tf: Tf) => ({
  range: (lo?: number, hi?: number) =>
    ctx.db
      .query("candles")
      .withIndex("by_series_ts", (q) => {
        const s = q.eq("ticker", ticker).eq("tf", tf);
        if (lo !== undefined && hi !== undefined) return s.gte("ts", lo).lte("ts", hi);
        if (lo !== undefined) return s.gte("ts", lo);
        if (hi !== undefined) return s.lte("ts", hi);
        return s;
      }),
});

/**
 * The stored bars at the incoming timestamps. One range read over [min, max] when the stored
 * bars there are not many more than the incoming ones (the usual case: a contiguous run of the
 * newest bars); otherwise one point read per timestamp, so a sparse batch never reads the
 * whole series.
 */
async function storedAt(
  ctx: MutationCtx,
  ticker: string,
  tf: Tf,
  tss: number[],
): Promise<Map<number, Doc<"candles">>> {
  const found = new Map<number, Doc<"candles">>();
  if (tss.length === 0) return found;
  const budget = 2 * tss.length + 16;
  const ranged = await seriesQuery(ctx, ticker, tf)
    .range(tss[0], tss[tss.length - 1])
    .take(budget + 1);
  if (ranged.length <= budget) {
    for (const d of ranged) found.set(d.ts, d);
    return found;
  }
  for (const ts of tss) {
    const d = await ctx.db
      .query("candles")
      .withIndex("by_series_ts", (q) => q.eq("ticker", ticker).eq("tf", tf).eq("ts", ts))
      .unique();
    if (d !== null) found.set(ts, d);
  }
  return found;
}

async function upsertSeries(
  ctx: MutationCtx,
  ticker: string,
  tf: Tf,
  rawBars: Bar[],
  keep: number,
  stats: UpsertStats,
): Promise<void> {
  if (ticker.length === 0) throw new ConvexError("ticker must not be empty");
  // One bar per ts (the last one given wins), ascending.
  const byTs = new Map<number, Bar>();
  for (const b of rawBars) {
    if (!Number.isInteger(b.ts)) throw new ConvexError(`ts must be an integer (unix ms), got ${b.ts}`);
    for (const f of ["o", "h", "l", "c"] as const) checkFinite(f, b[f]);
    if (b.v !== null) checkFinite("v", b.v);
    byTs.set(b.ts, b);
  }
  const bars = [...byTs.values()].sort((a, b) => a.ts - b.ts);

  const counter = await loadCounter(ctx, counterKey(ticker, tf), async () => {
    let n = 0;
    for await (const _ of seriesQuery(ctx, ticker, tf).range()) n++;
    return n;
  });
  const stored = await storedAt(
    ctx,
    ticker,
    tf,
    bars.map((b) => b.ts),
  );

  const fresh: Bar[] = [];
  const revised: [Doc<"candles">, Bar][] = [];
  for (const b of bars) {
    const d = stored.get(b.ts);
    if (d === undefined) fresh.push(b);
    else if (sameBar(d, b)) stats.unchanged++;
    else revised.push([d, b]);
  }

  // Which bars fall out of the newest `keep`: the oldest stored ones and/or incoming bars
  // older than everything kept (those are never written, so an old bar never evicts a newer).
  const toDrop = Math.max(0, counter.count + fresh.length - keep);
  let dropIds = new Set<string>();
  let dropFresh = new Set<Bar>();
  if (toDrop > 0) {
    const oldest = await seriesQuery(ctx, ticker, tf).range().take(toDrop);
    const ev = evict(
      toDrop,
      oldest,
      (d) => d.ts,
      fresh,
      (b) => b.ts,
    );
    for (const d of ev.dropExisting) {
      await ctx.db.delete(d._id);
      stats.deleted++;
    }
    dropIds = new Set(ev.dropExisting.map((d) => d._id));
    dropFresh = ev.dropIncoming;
  }

  let inserted = 0;
  for (const b of fresh) {
    if (dropFresh.has(b)) {
      stats.unchanged++; // older than the whole kept window: not stored, nothing written
      continue;
    }
    await ctx.db.insert("candles", { ticker, tf, ...b });
    inserted++;
  }
  stats.inserted += inserted;
  for (const [d, b] of revised) {
    if (dropIds.has(d._id)) {
      stats.unchanged++; // its stored bar was just pruned as the oldest
      continue;
    }
    await ctx.db.patch(d._id, { o: b.o, h: b.h, l: b.l, c: b.c, v: b.v, source: b.source });
    stats.updated++;
  }
  await saveCounter(ctx, counter, counter.count + inserted - dropIds.size);
}

/**
 * Upserts bars by (ticker, tf, ts) and prunes each series to its newest `keep` bars.
 * Internal: called by the Python side over the HTTP API with the deploy key.
 *
 * Returns counts summed over series. Every distinct incoming (ticker, tf, ts) counts once in
 * `inserted`, `updated` or `unchanged` (unchanged = nothing written for it: identical to the
 * stored bar, or older than the whole kept window); `deleted` counts pruned stored bars.
 */
export const upsertLatest = internalMutation({
  args: {
    keep: v.number(),
    series: v.array(seriesValidator),
  },
  returns: v.object({
    inserted: v.number(),
    updated: v.number(),
    unchanged: v.number(),
    deleted: v.number(),
  }),
  handler: async (ctx, { keep, series }) => {
    checkKeep(keep);
    const stats = emptyStats();
    // Merge duplicate (ticker, tf) entries so each series is handled once.
    const merged = new Map<string, { ticker: string; tf: Tf; bars: Bar[] }>();
    for (const s of series) {
      const k = counterKey(s.ticker, s.tf);
      const m = merged.get(k);
      if (m === undefined) merged.set(k, { ticker: s.ticker, tf: s.tf, bars: [...s.bars] });
      else m.bars.push(...s.bars);
    }
    for (const s of merged.values()) {
      await upsertSeries(ctx, s.ticker, s.tf, s.bars, keep, stats);
    }
    return stats;
  },
});

const barsOut = v.array(barValidator);

/** The newest bars of a series, newest first. */
export const latest = query({
  args: {
    ticker: v.string(),
    tf: tfValidator,
    limit: v.optional(v.number()),
  },
  returns: barsOut,
  handler: async (ctx, { ticker, tf, limit }) => {
    const n = clampLimit(limit, LATEST_DEFAULT_LIMIT, LATEST_MAX_LIMIT);
    const docs = await seriesQuery(ctx, ticker, tf).range().order("desc").take(n);
    return docs.map(toBar);
  },
});

/** Bars with ts < beforeTs, newest first: page back by passing the last ts as the next beforeTs. */
export const before = query({
  args: {
    ticker: v.string(),
    tf: tfValidator,
    beforeTs: v.number(),
    limit: v.optional(v.number()),
  },
  returns: barsOut,
  handler: async (ctx, { ticker, tf, beforeTs, limit }) => {
    const n = clampLimit(limit, LATEST_DEFAULT_LIMIT, LATEST_MAX_LIMIT);
    const docs = await ctx.db
      .query("candles")
      .withIndex("by_series_ts", (q) => q.eq("ticker", ticker).eq("tf", tf).lt("ts", beforeTs))
      .order("desc")
      .take(n);
    return docs.map(toBar);
  },
});
