import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { api, internal } from "./_generated/api";
import schema from "./schema";
import { modules } from "./test.setup";

type Article = {
  url: string;
  title: string;
  publishedAt: number;
  source: string;
  tickers: string[];
};

const T0 = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;

/** Article number i, published i hours after T0; tagged FPT when i is even, VNM when i % 3 == 0. */
const article = (i: number): Article => ({
  url: `https://news.example/a/${i}`,
  title: `Article ${i}`,
  publishedAt: T0 + i * HOUR,
  source: "cafef",
  tickers: [...(i % 2 === 0 ? ["FPT"] : []), ...(i % 3 === 0 ? ["VNM"] : [])],
});
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => article(from + i));

const newTest = () => convexTest({ schema, modules, transactionLimits: true });
type T = ReturnType<typeof newTest>;

const upsert = (t: T, keep: number, articles: Article[]) =>
  t.mutation(internal.articles.upsertLatest, { keep, articles });

const measured = (t: T, keep: number, articles: Article[]) =>
  t.mutation(async (ctx) => {
    const result = await ctx.runMutation(internal.articles.upsertLatest, { keep, articles });
    const m = await ctx.meta.getTransactionMetrics();
    return { result, read: m.documentsRead.used, written: m.documentsWritten.used };
  });

const storedUrls = (t: T) =>
  t.run(async (ctx) =>
    (await ctx.db.query("articles").withIndex("by_published").collect()).map((a) => a.url),
  );

describe("articles:upsertLatest", () => {
  test("upserts by url and prunes to the newest `keep` by publishedAt", async () => {
    const t = newTest();
    // given out of order: pruning goes by publishedAt, not by position
    const r = await upsert(t, 5, range(0, 8).reverse());
    expect(r).toEqual({ inserted: 5, updated: 0, unchanged: 3, deleted: 0 });
    expect(await storedUrls(t)).toEqual(range(3, 5).map((a) => a.url));

    const r2 = await upsert(t, 5, range(8, 2));
    expect(r2).toEqual({ inserted: 2, updated: 0, unchanged: 0, deleted: 2 });
    expect(await storedUrls(t)).toEqual(range(5, 5).map((a) => a.url));
  });

  test("an older article never evicts a newer one", async () => {
    const t = newTest();
    await upsert(t, 5, range(10, 5));
    const { result, written } = await measured(t, 5, [article(1)]);
    expect(result).toEqual({ inserted: 0, updated: 0, unchanged: 1, deleted: 0 });
    expect(written).toBe(0);
    expect(await storedUrls(t)).toEqual(range(10, 5).map((a) => a.url));
  });

  test("identical articles write nothing; a changed one is patched", async () => {
    const t = newTest();
    await upsert(t, 10, range(0, 4));
    const same = await measured(t, 10, range(0, 4));
    expect(same.result).toEqual({ inserted: 0, updated: 0, unchanged: 4, deleted: 0 });
    expect(same.written).toBe(0);

    const changed = { ...article(2), title: "Corrected", tickers: ["HPG"] };
    const r = await upsert(t, 10, [changed, article(3)]);
    expect(r).toEqual({ inserted: 0, updated: 1, unchanged: 1, deleted: 0 });
    expect(await t.query(api.articles.latest, { ticker: "HPG" })).toEqual([changed]);
  });

  test("a re-dated article is pruned by its new publishedAt", async () => {
    const t = newTest();
    await upsert(t, 3, range(0, 3));
    // article 2 turns out to be older than the others; then a new one arrives
    const redated = { ...article(2), publishedAt: T0 - HOUR };
    const r = await upsert(t, 3, [redated, article(5)]);
    expect(r).toEqual({ inserted: 1, updated: 1, unchanged: 0, deleted: 1 });
    expect(await storedUrls(t)).toEqual([article(0), article(1), article(5)].map((a) => a.url));
  });
});

describe("articles:latest", () => {
  test("newest first, default and maximum limits, ticker filter", async () => {
    const t = newTest();
    await upsert(t, 300, range(0, 250));

    const page = await t.query(api.articles.latest, {});
    expect(page).toHaveLength(50);
    expect(page).toEqual(range(200, 50).reverse());
    expect(await t.query(api.articles.latest, { limit: 1000 })).toHaveLength(200);
    expect(await t.query(api.articles.latest, { limit: 3 })).toEqual(range(247, 3).reverse());

    const fpt = await t.query(api.articles.latest, { ticker: "FPT", limit: 4 });
    expect(fpt.map((a) => a.url)).toEqual([248, 246, 244, 242].map((i) => article(i).url));
    const vnm = await t.query(api.articles.latest, { ticker: "VNM", limit: 2 });
    expect(vnm.map((a) => a.url)).toEqual([249, 246].map((i) => article(i).url));
    expect(await t.query(api.articles.latest, { ticker: "NONE" })).toEqual([]);
  });
});

describe("articles validation", () => {
  const t = newTest();
  test("rejects bad args", async () => {
    const a = article(0);
    const { tickers: _tickers, ...noTickers } = a;
    await expect(
      t.mutation(internal.articles.upsertLatest, { keep: 5, articles: [noTickers as Article] }),
    ).rejects.toThrow(/Validator|validat/i);
    await expect(
      t.mutation(internal.articles.upsertLatest, {
        keep: 5,
        articles: [{ ...a, publishedAt: "2024-01-01" as unknown as number }],
      }),
    ).rejects.toThrow(/Validator|validat/i);
    await expect(
      t.mutation(internal.articles.upsertLatest, { keep: 0, articles: [a] }),
    ).rejects.toThrow(/keep must be/);
    await expect(
      t.query(api.articles.latest, { limit: -1 }),
    ).rejects.toThrow(/limit/);
    await expect(
      t.query(api.articles.latest, { ticker: 5 as unknown as string }),
    ).rejects.toThrow(/Validator|validat/i);
  });
});
