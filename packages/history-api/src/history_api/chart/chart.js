// The History API's chart: candles and volume with infinite scroll through /candles paging, a
// marker on the bar of every corporate action's ex-date (from /udf/timescale_marks), a marker under
// each bar with linked news (from /udf/marks), and the last bar kept live from /stream/latest.
// The page source holds no key: a short-lived token arrives in the URL fragment (#token=...),
// which browsers never send to a server, so it stays out of access logs and Referer headers.
(function () {
  "use strict";
  const PAGE = 500;
  // lightweight-charts draws times as UTC; intraday bars are shifted to Vietnam wall time for display.
  const VN_OFFSET_S = 7 * 3600;
  const params = new URLSearchParams(location.search);
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("vm-token");
  if (token) sessionStorage.setItem("vm-token", token);
  history.replaceState(null, "", location.pathname + location.search);

  const statusEl = document.getElementById("status");
  const tickerEl = document.getElementById("ticker");
  const tfEl = document.getElementById("tf");
  const adjustmentEl = document.getElementById("adjustment");
  const state = (window.__chartState = {
    pagesLoaded: 0, times: [], exhausted: false, errors: [], marks: [], markers: [], news: [], newsMarkers: [],
    live: { connected: false, bars: 0, last: null },
  });

  function say(text, isError) {
    statusEl.textContent = text;
    statusEl.className = isError ? "error" : "";
    if (isError) state.errors.push(text);
  }

  async function api(path) {
    const res = await fetch(path, { headers: { Authorization: "Bearer " + token } });
    const body = await res.json().catch(() => ({ ok: false, error: "bad_json" }));
    if (!res.ok || body.ok === false) throw new Error(body.error || "http_" + res.status);
    return body;
  }

  const LC = window.LightweightCharts;
  const chart = LC.createChart(document.getElementById("chart"), {
    autoSize: true,
    layout: { background: { color: "#ffffff" }, textColor: "#222" },
    timeScale: { rightOffset: 4, timeVisible: false, secondsVisible: false },
  });
  const candles = chart.addSeries(LC.CandlestickSeries, {
    upColor: "#26a69a", downColor: "#ef5350", borderVisible: false, wickUpColor: "#26a69a", wickDownColor: "#ef5350",
  });
  const volume = chart.addSeries(LC.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "" });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  const exDateMarkers = LC.createSeriesMarkers(candles, []);

  let bars = [];
  let cursor = null;
  let loading = false;
  let generation = 0;

  function toTime(ts, tf) {
    return tf === "1d" ? ts / 1000 : ts / 1000 + VN_OFFSET_S;
  }

  // The news of one bar make one marker under it, coloured by the most confident link.
  function newsMarkers() {
    const byTime = new Map();
    let i = 0;
    for (const m of state.news) {
      const at = m.time * 1000;
      while (i < bars.length && bars[i].ts + barSpanMs() <= at) i += 1;
      if (i >= bars.length) break;
      if (bars[i].ts > at) continue;
      const group = byTime.get(bars[i].time) || { time: bars[i].time, count: 0, best: m };
      group.count += 1;
      if (m.confidence > group.best.confidence) group.best = m;
      byTime.set(bars[i].time, group);
    }
    return [...byTime.values()].map((g) => ({
      time: g.time, position: "belowBar", shape: "circle", color: g.best.color,
      text: g.count === 1 ? "N" : "N×" + g.count, id: "news:" + g.best.id,
    }));
  }

  function barSpanMs() {
    return { "1d": 86400000, "1h": 3600000, "15m": 900000 }[tfEl.value];
  }

  // Each ex-date's marker sits on the first loaded bar at or after the mark's time (the ex-date's
  // daily bar, or its first intraday bar) within a day; a date with no bar loaded gets none yet.
  function drawMarkers() {
    const markers = [];
    let i = 0;
    for (const m of state.marks) {
      const at = m.time * 1000;
      while (i < bars.length && bars[i].ts < at) i += 1;
      if (i >= bars.length) break;
      if (bars[i].ts - at >= 86400000) continue;
      markers.push({
        time: bars[i].time, position: "aboveBar", shape: "arrowDown", color: m.color, text: m.label, id: m.id,
      });
    }
    const news = newsMarkers();
    exDateMarkers.setMarkers(markers.concat(news).sort((a, b) => a.time - b.time));
    const drawn = exDateMarkers.markers().map((mk) => ({ id: mk.id, time: mk.time, text: mk.text, color: mk.color }));
    state.markers = drawn.filter((mk) => !mk.id.startsWith("news:")).map(({ id, time, text }) => ({ id, time, text }));
    state.newsMarkers = drawn.filter((mk) => mk.id.startsWith("news:"));
  }

  async function loadMarks(gen, ticker, tf) {
    const resolution = { "1d": "D", "1h": "60", "15m": "15" }[tf];
    const q = new URLSearchParams({ symbol: ticker, resolution, from: "0", to: String(Math.ceil(Date.now() / 1000) + 86400) });
    try {
      const res = await fetch("/udf/timescale_marks?" + q, { headers: { Authorization: "Bearer " + token } });
      const marks = await res.json();
      if (!res.ok || !Array.isArray(marks)) throw new Error((marks && marks.error) || "http_" + res.status);
      if (gen !== generation) return;
      state.marks = marks;
      drawMarkers();
    } catch (err) {
      say("ex-dates: " + err.message, true);
    }
  }

  async function loadNews(gen, ticker, tf) {
    const resolution = { "1d": "D", "1h": "60", "15m": "15" }[tf];
    const q = new URLSearchParams({ symbol: ticker, resolution, from: "0", to: String(Math.ceil(Date.now() / 1000) + 86400) });
    try {
      const res = await fetch("/udf/marks?" + q, { headers: { Authorization: "Bearer " + token } });
      const marks = await res.json();
      if (!res.ok || !Array.isArray(marks)) throw new Error((marks && marks.error) || "http_" + res.status);
      if (gen !== generation) return;
      state.news = marks;
      drawMarkers();
    } catch (err) {
      say("news: " + err.message, true);
    }
  }

  // A newer bar is appended, the last one revised in place, an older loaded one replaced.
  function applyLiveBar(bar, tf) {
    if (!bars.length) return;
    const b = { ts: bar.ts, o: bar.o, h: bar.h, l: bar.l, c: bar.c, v: bar.v, time: toTime(bar.ts, tf) };
    const last = bars[bars.length - 1];
    const candle = { time: b.time, open: b.o, high: b.h, low: b.l, close: b.c };
    const vol = { time: b.time, value: b.v || 0, color: b.c >= b.o ? "rgba(38,166,154,0.5)" : "rgba(239,83,80,0.5)" };
    if (b.ts >= last.ts) {
      if (b.ts === last.ts) bars[bars.length - 1] = b;
      else bars.push(b);
      candles.update(candle);
      volume.update(vol);
    } else {
      const i = bars.findIndex((x) => x.ts === b.ts);
      if (i < 0) return;
      bars[i] = b;
      candles.setData(bars.map((x) => ({ time: x.time, open: x.o, high: x.h, low: x.l, close: x.c })));
      volume.setData(bars.map((x) => ({
        time: x.time, value: x.v || 0, color: x.c >= x.o ? "rgba(38,166,154,0.5)" : "rgba(239,83,80,0.5)",
      })));
    }
    state.times = bars.map((x) => x.ts);
    state.live.bars += 1;
    state.live.last = { ts: b.ts, o: b.o, h: b.h, l: b.l, c: b.c, v: b.v };
    drawMarkers();
  }

  // EventSource cannot send the token header, so the stream is read with fetch; on a drop it
  // reconnects with Last-Event-ID, and the server replays what was missed.
  let liveAbort = null;
  async function live(gen, ticker, tf, lastId) {
    if (gen !== generation) return;
    const controller = new AbortController();
    liveAbort = controller;
    const headers = { Authorization: "Bearer " + token };
    if (lastId) headers["Last-Event-ID"] = lastId;
    let retryMs = 2000;
    try {
      const res = await fetch("/stream/latest?" + new URLSearchParams({ tickers: ticker, tf }), {
        headers, signal: controller.signal,
      });
      if (!res.ok) throw new Error("http_" + res.status);
      state.live.connected = true;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let carriage = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        // SSE lines may end in CRLF (the server's), CR or LF; a CR at a chunk's end waits for its LF.
        let text = carriage + value;
        carriage = text.endsWith("\r") ? "\r" : "";
        if (carriage) text = text.slice(0, -1);
        buffer += text.replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = {};
          for (const line of block.split("\n")) {
            const at = line.indexOf(":");
            if (at <= 0) continue;
            event[line.slice(0, at)] = line.slice(at + 1).replace(/^ /, "");
          }
          if (event.retry) retryMs = Number(event.retry) || retryMs;
          if (event.id) lastId = event.id;
          if (event.event !== "bar" || gen !== generation) continue;
          const bar = JSON.parse(event.data);
          // The stream sends the stored (adjusted) bars; a raw chart keeps its loaded prices.
          if (bar.ticker === ticker && bar.tf === tf && adjustmentEl.value === "adjusted") applyLiveBar(bar, tf);
        }
      }
    } catch (err) {
      if (controller.signal.aborted) return;
    } finally {
      if (liveAbort === controller) state.live.connected = false;
    }
    if (gen === generation && !controller.signal.aborted) setTimeout(() => live(gen, ticker, tf, lastId), retryMs);
  }

  async function loadOlder() {
    if (loading || state.exhausted) return;
    loading = true;
    const gen = generation;
    const ticker = tickerEl.value.trim().toUpperCase();
    const tf = tfEl.value;
    const q = new URLSearchParams({ ticker, tf, limit: String(PAGE) });
    // The default basis is left out, so an adjusted chart asks exactly what it always asked.
    if (adjustmentEl.value === "raw") q.set("adjustment", "raw");
    if (cursor !== null) q.set("beforeTs", String(cursor));
    try {
      say("loading…");
      const page = await api("/candles?" + q);
      if (gen !== generation) return;
      const older = page.rows.slice().reverse().map((r) => ({ ...r, time: toTime(r.ts, tf) }));
      bars = older.concat(bars);
      candles.setData(bars.map((b) => ({ time: b.time, open: b.o, high: b.h, low: b.l, close: b.c })));
      volume.setData(bars.map((b) => ({
        time: b.time, value: b.v || 0, color: b.c >= b.o ? "rgba(38,166,154,0.5)" : "rgba(239,83,80,0.5)",
      })));
      drawMarkers();
      cursor = page.nextBeforeTs;
      state.exhausted = cursor === null;
      state.pagesLoaded += 1;
      // Live from the newest loaded bar on: the stream first replays it and anything written since.
      if (state.pagesLoaded === 1 && bars.length) live(gen, ticker, tf, String(bars[bars.length - 1].ts));
      state.times = bars.map((b) => b.ts);
      say(`${ticker} ${tf}: ${bars.length} bars` + (state.exhausted ? " (all history)" : ""));
    } catch (err) {
      say("error: " + err.message, true);
    } finally {
      loading = false;
    }
  }

  chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
    // Fetch the next older page before the user reaches the left edge.
    if (range && range.from < 50) loadOlder();
  });

  function reset() {
    if (!token) return;
    generation += 1;
    bars = [];
    cursor = null;
    loading = false;
    Object.assign(state, { pagesLoaded: 0, times: [], exhausted: false, marks: [], markers: [], news: [], newsMarkers: [] });
    if (liveAbort) liveAbort.abort();
    state.live = { connected: false, bars: 0, last: null };
    exDateMarkers.setMarkers([]);
    candles.setData([]);
    volume.setData([]);
    const q = new URLSearchParams({ ticker: tickerEl.value.trim().toUpperCase(), tf: tfEl.value });
    if (adjustmentEl.value === "raw") q.set("adjustment", "raw");
    history.replaceState(null, "", location.pathname + "?" + q);
    // Daily bars are dates; only intraday charts need a clock on the time axis.
    chart.applyOptions({ timeScale: { timeVisible: tfEl.value !== "1d" } });
    start();
  }

  function start() {
    const ticker = tickerEl.value.trim().toUpperCase();
    loadMarks(generation, ticker, tfEl.value);
    loadNews(generation, ticker, tfEl.value);
    loadOlder();
  }

  tickerEl.value = (params.get("ticker") || "VNINDEX").toUpperCase();
  tfEl.value = ["1d", "1h", "15m"].includes(params.get("tf")) ? params.get("tf") : "1d";
  tickerEl.addEventListener("change", reset);
  adjustmentEl.value = params.get("adjustment") === "raw" ? "raw" : "adjusted";
  tfEl.addEventListener("change", reset);
  adjustmentEl.addEventListener("change", reset);

  if (!token) {
    say("no access token: open the chartUrl returned by POST /chart-token", true);
    return;
  }
  chart.applyOptions({ timeScale: { timeVisible: tfEl.value !== "1d" } });
  api("/symbols?active=true")
    .then((list) => {
      const dl = document.getElementById("tickers");
      for (const s of list.rows) {
        const opt = document.createElement("option");
        opt.value = s.ticker;
        opt.label = [s.exchange, s.name].filter(Boolean).join(" · ");
        dl.appendChild(opt);
      }
    })
    .catch((err) => say("ticker list: " + err.message, true));
  start();
})();
