// The article slice: the newest `keep` articles by publishedAt. The Python side pushes them with
// `articles:upsertLatest` (internal, deploy key); the web UI reads `articles:latest`.
import { ConvexError, v } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { internalMutation, query } from "./_generated/server";
import { articleFields } from "./schema";
import {
  checkKeep,
  clampLimit,
  emptyStats,
  evict,
  loadCounter,
  saveCounter,
} from "./lib/slice";

export const ARTICLES_DEFAULT_LIMIT = 50;
export const ARTICLES_MAX_LIMIT = 200;
const COUNTER_KEY = "articles";

const articleValidator = v.object(articleFields);
type Article = {
  url: string;
  title: string;
  publishedAt: number;
  source: string;
  tickers: string[];
};

const toArticle = (d: Doc<"articles">): Article => ({
  url: d.url,
  title: d.title,
  publishedAt: d.publishedAt,
  source: d.source,
  tickers: d.tickers,
});

const sameArticle = (d: Doc<"articles">, a: Article): boolean =>
  d.title === a.title &&
  d.publishedAt === a.publishedAt &&
  d.source === a.source &&
  d.tickers.length === a.tickers.length &&
  d.tickers.every((t, i) => t === a.tickers[i]);

/**
 * Upserts articles by url, then prunes to the newest `keep` by publishedAt. An incoming article
 * older than all of `keep` stored ones is not written. Same return shape as
 * `candles:upsertLatest`.
 */
export const upsertLatest = internalMutation({
  args: {
    keep: v.number(),
    articles: v.array(articleValidator),
  },
  returns: v.object({
    inserted: v.number(),
    updated: v.number(),
    unchanged: v.number(),
    deleted: v.number(),
  }),
  handler: async (ctx, { keep, articles }) => {
    checkKeep(keep);
    const stats = emptyStats();
    const byUrl = new Map<string, Article>();
    for (const a of articles) {
      if (a.url.length === 0) throw new ConvexError("url must not be empty");
      if (!Number.isInteger(a.publishedAt)) {
        throw new ConvexError(`publishedAt must be an integer (unix ms), got ${a.publishedAt}`);
      }
      byUrl.set(a.url, a);
    }

    const counter = await loadCounter(ctx, COUNTER_KEY, async () => {
      let n = 0;
      for await (const _ of ctx.db.query("articles").withIndex("by_published")) n++;
      return n;
    });

    const fresh: Article[] = [];
    for (const a of byUrl.values()) {
      const d = await ctx.db
        .query("articles")
        .withIndex("by_url", (q) => q.eq("url", a.url))
        .unique();
      if (d === null) fresh.push(a);
      else if (sameArticle(d, a)) stats.unchanged++;
      else {
        // Patched before pruning, so a changed publishedAt is what the pruning sees.
        await ctx.db.patch(d._id, {
          title: a.title,
          publishedAt: a.publishedAt,
          source: a.source,
          tickers: a.tickers,
        });
        stats.updated++;
      }
    }
    fresh.sort((a, b) => a.publishedAt - b.publishedAt);

    const toDrop = Math.max(0, counter.count + fresh.length - keep);
    let dropped = 0;
    let dropFresh = new Set<Article>();
    if (toDrop > 0) {
      const oldest = await ctx.db.query("articles").withIndex("by_published").take(toDrop);
      const ev = evict(
        toDrop,
        oldest,
        (d) => d.publishedAt,
        fresh,
        (a) => a.publishedAt,
      );
      for (const d of ev.dropExisting) {
        await ctx.db.delete(d._id);
      }
      dropped = ev.dropExisting.length;
      stats.deleted += dropped;
      dropFresh = ev.dropIncoming;
    }
    let inserted = 0;
    for (const a of fresh) {
      if (dropFresh.has(a)) {
        stats.unchanged++; // older than the whole kept window: not stored
        continue;
      }
      await ctx.db.insert("articles", a);
      inserted++;
    }
    stats.inserted += inserted;
    await saveCounter(ctx, counter, counter.count + inserted - dropped);
    return stats;
  },
});

/** The newest articles, newest first; with `ticker`, only those tagged with it. */
export const latest = query({
  args: {
    limit: v.optional(v.number()),
    ticker: v.optional(v.string()),
  },
  returns: v.array(articleValidator),
  handler: async (ctx, { limit, ticker }) => {
    const n = clampLimit(limit, ARTICLES_DEFAULT_LIMIT, ARTICLES_MAX_LIMIT);
    const newestFirst = ctx.db.query("articles").withIndex("by_published").order("desc");
    if (ticker === undefined) return (await newestFirst.take(n)).map(toArticle);
    // The slice is bounded (`keep` articles), so walking it newest first and stopping at
    // `limit` matches is a bounded read.
    const out: Article[] = [];
    for await (const d of newestFirst) {
      if (d.tickers.includes(ticker)) {
        out.push(toArticle(d));
        if (out.length >= n) break;
      }
    }
    return out;
  },
});
