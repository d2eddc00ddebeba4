import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

/** Timeframes the latest slice holds (TimescaleDB keeps the full history of every timeframe). */
export const tfValidator = v.union(v.literal("1d"), v.literal("1h"), v.literal("15m"));

export const candleFields = {
  ticker: v.string(),
  tf: tfValidator,
  /** bar open time, unix ms */
  ts: v.number(),
  o: v.number(),
  h: v.number(),
  l: v.number(),
  c: v.number(),
  /** volume; null (or absent) when the provider has none */
  v: v.optional(v.union(v.number(), v.null())),
  source: v.union(v.string(), v.null()),
};

export const articleFields = {
  url: v.string(),
  title: v.string(),
  /** unix ms */
  publishedAt: v.number(),
  source: v.string(),
  tickers: v.array(v.string()),
};

export default defineSchema({
  candles: defineTable(candleFields).index("by_series_ts", ["ticker", "tf", "ts"]),
  articles: defineTable(articleFields)
    .index("by_url", ["url"])
    .index("by_published", ["publishedAt"]),
  // Bookkeeping, not part of the Python contract: how many documents each slice holds
  // ("candles|<ticker>|<tf>", "articles"), so pruning never reads a whole slice.
  sliceCounts: defineTable({ key: v.string(), count: v.number() }).index("by_key", ["key"]),
});
