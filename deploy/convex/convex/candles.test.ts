import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { api, internal } from "./_generated/api";
import schema from "./schema";
import { modules } from "./test.setup";

type Tf = "1d" | "1h" | "15m";
type Bar = {
  ts: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number | null;
  source: string | null;
};

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

/** n daily bars starting at day `from` (ascending), with prices derived from the day. */
const bars = (from: number, n: number, source: string | null = "vndirect"): Bar[] =>
  Array.from({ length: n }, (_, i) => {
    const d = from + i;
    return { ts: T0 + d * DAY, o: 10 + d, h: 11 + d, l: 9 + d, c: 10.5 + d, v: 1000 * d, source };
  });

const newTest = () => convexTest({ schema, modules, transactionLimits: true });
type T = ReturnType<typeof newTest>;

const upsert = (t: T, keep: number, series: { ticker: string; tf: Tf; bars: Bar[] }[]) =>
  t.mutation(internal.candles.upsertLatest, { keep, series });

/** Runs upsertLatest inside a wrapper mutation and also returns what it read and wrote. */
const measured = (t: T, keep: number, series: { ticker: string; tf: Tf; bars: Bar[] }[]) =>
  t.mutation(async (ctx) => {
    const result = await ctx.runMutation(internal.candles.upsertLatest, { keep, series });
    const m = await ctx.meta.getTransactionMetrics();
    return { result, read: m.documentsRead.used, written: m.documentsWritten.used };
  });

/** Every stored bar of a series, ascending, straight from the table. */
const stored = (t: T, ticker: string, tf: Tf) =>
  t.run(async (ctx) =>
    (
      await ctx.db
        .query("candles")
        .withIndex("by_series_ts", (q) => q.eq("ticker", ticker).eq("tf", tf))
        .collect()
    ).map(({ ts, o, h, l, c, v, source }) => ({ ts, o, h, l, c, v, source })),
  );

describe("candles:upsertLatest", () => {
  test("inserts, then prunes each (ticker, tf) to its newest `keep` bars", async () => {
    const t = newTest();
    const other = bars(0, 3);
    await upsert(t, 5, [
      { ticker: "FPT", tf: "1h", bars: other },
      { ticker: "VNM", tf: "1d", bars: other },
    ]);

    const r = await upsert(t, 5, [{ ticker: "FPT", tf: "1d", bars: bars(0, 8) }]);
    expect(r).toEqual({ inserted: 5, updated: 0, unchanged: 3, deleted: 0 });
    expect(await stored(t, "FPT", "1d")).toEqual(bars(3, 5));

    // appending newer bars evicts the oldest stored ones
    const r2 = await upsert(t, 5, [{ ticker: "FPT", tf: "1d", bars: bars(8, 2) }]);
    expect(r2).toEqual({ inserted: 2, updated: 0, unchanged: 0, deleted: 2 });
    expect(await stored(t, "FPT", "1d")).toEqual(bars(5, 5));

    // other series (same ticker other tf, other ticker same tf) are untouched
    expect(await stored(t, "FPT", "1h")).toEqual(other);
    expect(await stored(t, "VNM", "1d")).toEqual(other);
  });

  test("an older bar never evicts a newer one", async () => {
    const t = newTest();
    await upsert(t, 5, [{ ticker: "FPT", tf: "1d", bars: bars(10, 5) }]);
    const before = await stored(t, "FPT", "1d");

    const { result, written } = await measured(t, 5, [
      { ticker: "FPT", tf: "1d", bars: bars(2, 1) },
    ]);
    expect(result).toEqual({ inserted: 0, updated: 0, unchanged: 1, deleted: 0 });
    expect(written).toBe(0);
    expect(await stored(t, "FPT", "1d")).toEqual(before);

    // mixed: an old bar, a gap-filling bar and a newer bar; the newest 5 by ts remain
    const mixed = [...bars(1, 1), ...bars(16, 1), ...bars(20, 1)];
    const r = await upsert(t, 5, [{ ticker: "FPT", tf: "1d", bars: mixed }]);
    expect(r).toEqual({ inserted: 2, updated: 0, unchanged: 1, deleted: 2 });
    expect((await stored(t, "FPT", "1d")).map((b) => b.ts)).toEqual(
      [12, 13, 14, 16, 20].map((d) => T0 + d * DAY),
    );
  });

  test("a series with room keeps older bars too", async () => {
    const t = newTest();
    await upsert(t, 5, [{ ticker: "FPT", tf: "1d", bars: bars(10, 3) }]);
    const r = await upsert(t, 5, [{ ticker: "FPT", tf: "1d", bars: bars(2, 1) }]);
    expect(r).toEqual({ inserted: 1, updated: 0, unchanged: 0, deleted: 0 });
    expect(await stored(t, "FPT", "1d")).toEqual([...bars(2, 1), ...bars(10, 3)]);
  });

  test("identical bars write nothing; a revised bar is patched", async () => {
    const t = newTest();
    await upsert(t, 10, [{ ticker: "HPG", tf: "15m", bars: bars(0, 6, null) }]);

    const same = await measured(t, 10, [{ ticker: "HPG", tf: "15m", bars: bars(0, 6, null) }]);
    expect(same.result).toEqual({ inserted: 0, updated: 0, unchanged: 6, deleted: 0 });
    expect(same.written).toBe(0);

    const revised = bars(0, 6, null);
    revised[5] = { ...revised[5], c: 99, v: null, source: "ssi" };
    const r = await measured(t, 10, [{ ticker: "HPG", tf: "15m", bars: revised }]);
    expect(r.result).toEqual({ inserted: 0, updated: 1, unchanged: 5, deleted: 0 });
    expect(r.written).toBe(1);
    expect(await stored(t, "HPG", "15m")).toEqual(revised);
  });

  test("duplicate ts in one call: the last one wins", async () => {
    const t = newTest();
    const [b] = bars(0, 1);
    const r = await upsert(t, 5, [
      { ticker: "FPT", tf: "1d", bars: [b, { ...b, c: 1 }] },
      { ticker: "FPT", tf: "1d", bars: [{ ...b, c: 2 }] },
    ]);
    expect(r).toEqual({ inserted: 1, updated: 0, unchanged: 0, deleted: 0 });
    expect(await stored(t, "FPT", "1d")).toEqual([{ ...b, c: 2 }]);
  });

  test("lowering keep prunes the surplus", async () => {
    const t = newTest();
    await upsert(t, 10, [{ ticker: "FPT", tf: "1d", bars: bars(0, 10) }]);
    const r = await upsert(t, 4, [{ ticker: "FPT", tf: "1d", bars: [] }]);
    expect(r).toEqual({ inserted: 0, updated: 0, unchanged: 0, deleted: 6 });
    expect(await stored(t, "FPT", "1d")).toEqual(bars(6, 4));
  });

  test("a steady-state append reads only what it touches, not the whole series", async () => {
    const t = newTest();
    await upsert(t, 1000, [{ ticker: "FPT", tf: "1d", bars: bars(0, 1000) }]);
    // the newest bar revised plus one new bar: the usual incremental push
    const push = bars(999, 2);
    push[0] = { ...push[0], c: 1 };
    const { result, read, written } = await measured(t, 1000, [
      { ticker: "FPT", tf: "1d", bars: push },
    ]);
    expect(result).toEqual({ inserted: 1, updated: 1, unchanged: 0, deleted: 1 });
    expect(read).toBeLessThan(20);
    expect(written).toBeLessThan(10);
    expect(await stored(t, "FPT", "1d")).toHaveLength(1000);
  });

  test("a sparse batch falls back to point reads", async () => {
    const t = newTest();
    await upsert(t, 1000, [{ ticker: "FPT", tf: "1d", bars: bars(0, 1000) }]);
    const sparse = [...bars(0, 1), ...bars(999, 1)].map((b) => ({ ...b, c: 0 }));
    const { result, read } = await measured(t, 1000, [{ ticker: "FPT", tf: "1d", bars: sparse }]);
    expect(result).toEqual({ inserted: 0, updated: 2, unchanged: 0, deleted: 0 });
    expect(read).toBeLessThan(40);
  });

  test("2,000 bars in one call stay inside Convex's per-mutation limits", async () => {
    const t = newTest();
    const series = Array.from({ length: 4 }, (_, i) => ({
      ticker: `T${i}`,
      tf: "15m" as const,
      bars: bars(0, 500),
    }));
    expect(await upsert(t, 300, series)).toEqual({
      inserted: 1200,
      updated: 0,
      unchanged: 800,
      deleted: 0,
    });
    const next = series.map((s) => ({ ...s, bars: bars(250, 500) }));
    expect(await upsert(t, 300, next)).toEqual({
      inserted: 1000,
      updated: 0,
      unchanged: 1000,
      deleted: 1000,
    });
    expect(await stored(t, "T3", "15m")).toEqual(bars(450, 300));
  });
});

describe("candles:latest / candles:before", () => {
  test("page through a series newest first, every bar exactly once", async () => {
    const t = newTest();
    const all = bars(0, 23);
    await upsert(t, 100, [
      { ticker: "FPT", tf: "1d", bars: all },
      { ticker: "FPT", tf: "1h", bars: bars(100, 5) },
    ]);

    const first = await t.query(api.candles.latest, { ticker: "FPT", tf: "1d", limit: 5 });
    expect(first).toEqual(all.slice(-5).reverse());

    const seen = [...first];
    let page = first;
    while (page.length > 0) {
      page = await t.query(api.candles.before, {
        ticker: "FPT",
        tf: "1d",
        beforeTs: page[page.length - 1].ts,
        limit: 5,
      });
      seen.push(...page);
    }
    expect(seen).toEqual([...all].reverse());
  });

  test("defaults and limits", async () => {
    const t = newTest();
    await upsert(t, 1200, [{ ticker: "FPT", tf: "1d", bars: bars(0, 1200) }]);
    expect(await t.query(api.candles.latest, { ticker: "FPT", tf: "1d" })).toHaveLength(500);
    expect(
      await t.query(api.candles.latest, { ticker: "FPT", tf: "1d", limit: 5000 }),
    ).toHaveLength(1000);
    expect(
      await t.query(api.candles.before, { ticker: "FPT", tf: "1d", beforeTs: T0 + 3 * DAY }),
    ).toEqual(bars(0, 3).reverse());
    expect(await t.query(api.candles.latest, { ticker: "NOPE", tf: "1d" })).toEqual([]);
    await expect(
      t.query(api.candles.latest, { ticker: "FPT", tf: "1d", limit: 0 }),
    ).rejects.toThrow(/limit/);
  });
});

describe("validation", () => {
  const t = newTest();
  const ok = { ticker: "FPT", tf: "1d" as const, bars: bars(0, 1) };

  test("rejects an unknown timeframe", async () => {
    await expect(
      t.mutation(internal.candles.upsertLatest, {
        keep: 5,
        series: [{ ...ok, tf: "5m" as Tf }],
      }),
    ).rejects.toThrow(/Validator|validat/i);
    await expect(
      t.query(api.candles.latest, { ticker: "FPT", tf: "5m" as Tf }),
    ).rejects.toThrow(/Validator|validat/i);
  });

  test("rejects malformed bars", async () => {
    const { v: _v, ...noVolume } = ok.bars[0];
    await expect(
      t.mutation(internal.candles.upsertLatest, {
        keep: 5,
        series: [{ ...ok, bars: [noVolume as Bar] }],
      }),
    ).rejects.toThrow(/Validator|validat/i);
    await expect(
      t.mutation(internal.candles.upsertLatest, {
        keep: 5,
        series: [{ ...ok, bars: [{ ...ok.bars[0], o: "1" as unknown as number }] }],
      }),
    ).rejects.toThrow(/Validator|validat/i);
    await expect(
      t.mutation(internal.candles.upsertLatest, {
        keep: 5,
        series: [{ ...ok, bars: [{ ...ok.bars[0], ts: 1.5 }] }],
      }),
    ).rejects.toThrow(/ts must be an integer/);
    await expect(
      t.mutation(internal.candles.upsertLatest, {
        keep: 5,
        series: [{ ...ok, bars: [{ ...ok.bars[0], c: NaN }] }],
      }),
    ).rejects.toThrow(/finite/);
  });

  test("rejects keep outside 1..5000", async () => {
    for (const keep of [0, 5001, 2.5]) {
      await expect(
        t.mutation(internal.candles.upsertLatest, { keep, series: [ok] }),
      ).rejects.toThrow(/keep must be/);
    }
  });

  test("upsertLatest is internal: the public api has no such function (checked by tsc)", () => {
    // @ts-expect-error upsertLatest must only be in `internal`, never in the public `api`
    const ref = api.candles.upsertLatest;
    expect(ref).toBeDefined(); // anyApi builds a reference for any name at run time
  });
});
