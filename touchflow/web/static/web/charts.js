/* Touchflow charts: each <figure class="chart"> holds a <table class="chart-data">, the
 * accessible source of its numbers; this file draws the same numbers above it with the
 * vendored Apache ECharts (docs/decisions/0026-charts-echarts.md). Without JavaScript,
 * or if ECharts failed to load, the table alone is the chart.
 *
 * The Content-Security-Policy forbids inline styles, so nothing here or in ECharts may
 * insert markup with a style attribute: ECharts draws SVG, and the tooltip's content is
 * built as DOM nodes with classes (charts.css). Positions and sizes are set through the
 * CSSOM (element.style), which the policy allows.
 */
(() => {
  "use strict";

  const echarts = window.echarts;
  if (!echarts) return;

  // Okabe & Ito's palette, told apart with every common colour-vision deficiency; yellow
  // and black last (yellow is faint on white, black reads as an outline).
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7",
    "#F0E442", "#000000"];
  const MUTED = "#A0A7B1"; // a series or slice whose header says data-muted="true"
  const KINDS = new Set(["bar", "hbar", "line", "pie"]);
  const ECHARTS_LOCALES = new Set(["ru", "pl"]); // vendored; EN is built in

  const drawn = new WeakMap(); // figure → its ECharts instance
  const resized = new ResizeObserver((entries) => {
    for (const entry of entries) echarts.getInstanceByDom(entry.target)?.resize();
  });

  function language() {
    const lang = (document.documentElement.lang || "en").trim();
    try {
      return Intl.getCanonicalLocales(lang)[0];
    } catch {
      return "en";
    }
  }

  function formatters(lang, percent) {
    const plain = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
    const share = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });
    const value = (v) => {
      if (v == null || Number.isNaN(+v)) return "–";
      return percent ? share.format(v / 100) : plain.format(v);
    };
    return { value, share: (p) => share.format(p / 100) };
  }

  // A cell's text as the page's locale writes numbers ("1 234,5", "12 %"): the fallback
  // when a cell has no data-value.
  function textParser(lang) {
    const parts = new Intl.NumberFormat(lang).formatToParts(12345.6);
    const group = parts.find((p) => p.type === "group")?.value ?? ",";
    const decimal = parts.find((p) => p.type === "decimal")?.value ?? ".";
    return (text) => {
      let t = text.replace(/[\s\u00a0\u202f%]/g, "").replace("\u2212", "-");
      if (group.trim()) t = t.split(group).join("");
      t = t.replace(decimal, ".");
      return t === "" || !Number.isFinite(Number(t)) ? null : Number(t);
    };
  }

  function cellValue(cell, parseText) {
    if (!cell) return null;
    const raw = cell.dataset.value;
    if (raw !== undefined) {
      const v = raw.trim() === "" ? NaN : Number(raw);
      return Number.isFinite(v) ? v : null;
    }
    return parseText(cell.textContent);
  }

  const linkOf = (cell) => cell?.querySelector("a[href]")?.href ?? null;
  const isMuted = (cell) => cell?.dataset.muted === "true";

  /** The figure's table as categories (rows) and series (columns after the first). */
  function readTable(table, parseText) {
    const heads = table.tHead?.rows.length
      ? [...table.tHead.rows[table.tHead.rows.length - 1].cells] : [];
    const rows = [...table.tBodies].flatMap((body) => [...body.rows]);
    // A column marked data-drawn="false" (a share beside its count) stays in the table.
    const series = heads.slice(1).map((th, i) => ({
      name: th.textContent.trim(), muted: isMuted(th), values: [], links: [], column: i,
      drawn: th.dataset.drawn !== "false",
    }));
    const categories = rows.map((row) => ({
      name: row.cells[0]?.textContent.trim() ?? "",
      link: linkOf(row.cells[0]),
      muted: isMuted(row.cells[0]),
    }));
    rows.forEach((row, r) => {
      series.forEach((s) => {
        const cell = row.cells[s.column + 1];
        s.values.push(cellValue(cell, parseText));
        s.links.push(linkOf(cell) ?? categories[r].link);
      });
    });
    return { categories, series: series.filter((s) => s.drawn) };
  }

  function node(tag, className, text) {
    const el = document.createElement(tag);
    el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // The tooltip as DOM nodes: ECharts' own HTML tooltip writes style attributes, and its
  // rich-text one is drawn over the bars and takes the taps meant for those below it.
  function tip(title, rows) {
    const box = node("div", "chart-tip");
    if (title) box.append(node("div", "chart-tip-title", title));
    for (const [colour, name, value] of rows) {
      const swatch = node("span", "chart-tip-swatch");
      swatch.style.backgroundColor = colour;
      const row = node("div", "chart-tip-row");
      row.append(swatch, node("span", "chart-tip-name", name),
        node("span", "chart-tip-value", value));
      box.append(row);
    }
    return box;
  }

  function tooltip(trigger, formatter, extra = {}) {
    return {
      trigger, formatter, confine: true, className: "chart-tip-box", padding: [4, 8],
      transitionDuration: matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : 0.2,
      ...extra,
    };
  }

  function colours(items) {
    let next = 0;
    return items.map((item) => (item.muted ? MUTED : PALETTE[next++ % PALETTE.length]));
  }

  function item(value, link) {
    return { value: value ?? "-", link, cursor: link ? "pointer" : "default" };
  }

  // ECharts' description of the chart, in the page's language, on the drawing's
  // aria-label: "This is a chart about …; series …; the data: …". Its values are each
  // data point's dimensions; ``hidden`` drops the ones that are not the table's number
  // (a category's index, a stack's running total).
  function common(caption, font, hidden) {
    return {
      animation: !matchMedia("(prefers-reduced-motion: reduce)").matches,
      title: { text: caption, show: false }, // the figcaption is the visible title
      aria: { enabled: true, label: { data: { excludeDimensionId: hidden } } },
      textStyle: { fontFamily: font },
    };
  }

  function pieOption(data, fmt, base) {
    const s = data.series[0];
    const fill = colours(data.categories);
    return {
      ...base,
      tooltip: tooltip("item", (p) => tip(s.name, [
        [p.color, p.name, `${fmt.value(p.value)} · ${fmt.share(p.percent)}`],
      ])),
      series: [{
        type: "pie",
        name: s.name,
        radius: "62%",
        label: {
          formatter: (p) => `${p.name}\n${fmt.share(p.percent)}`,
          lineHeight: 16, overflow: "truncate", alignTo: "edge", edgeDistance: 4, width: 96,
        },
        labelLayout: { hideOverlap: true },
        data: data.categories.map((c, r) => ({
          ...item(s.values[r], s.links[r]), name: c.name, itemStyle: { color: fill[r] },
        })),
      }],
    };
  }

  function axisOption(kind, data, fmt, base, stacked, width) {
    const horizontal = kind === "hbar";
    const fill = colours(data.series);
    const category = {
      type: "category",
      data: data.categories.map((c) => c.name),
      inverse: horizontal, // the table's first row on top
      triggerEvent: true, // a click on a label opens the row's link
      axisLabel: { overflow: "truncate", width: horizontal ? Math.max(64, width * 0.35) : 96 },
      axisTick: { alignWithLabel: true },
    };
    const value = { type: "value", axisLabel: { formatter: fmt.value, hideOverlap: true } };
    const many = data.series.length > 1;
    return {
      ...base,
      grid: { left: 8, right: 16, top: many ? 36 : 12, bottom: 8, containLabel: true },
      legend: { show: many, type: "scroll", top: 0 },
      tooltip: tooltip("axis", (ps) => tip(ps[0]?.name, ps.map((p) => [
        p.color, p.seriesName, fmt.value(p.value),
      ])), { axisPointer: { type: kind === "line" ? "line" : "shadow" } }),
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: data.series.map((s, i) => ({
        type: kind === "line" ? "line" : "bar",
        name: s.name,
        stack: stacked ? "total" : undefined,
        color: fill[i],
        itemStyle: { color: fill[i] },
        ...(kind === "line" ? { lineStyle: { color: fill[i] }, symbolSize: 8 } : {}),
        emphasis: { focus: "series" },
        barMaxWidth: 48,
        data: s.values.map((v, r) => item(v, s.links[r])),
      })),
    };
  }

  function canvasOf(figure, table) {
    let canvas = figure.querySelector(":scope > .chart-canvas");
    if (!canvas) {
      canvas = document.createElement("div");
      canvas.className = "chart-canvas";
      figure.insertBefore(canvas, table);
    }
    return canvas;
  }

  // A horizontal bar chart grows with its rows, so that every label keeps its line.
  function fitHeight(canvas, kind, data, stacked) {
    if (kind !== "hbar") return;
    const band = stacked ? 28 : 12 * data.series.length + 16;
    const need = data.categories.length * band + (data.series.length > 1 ? 76 : 48);
    if (need > canvas.clientHeight) canvas.style.height = `${need}px`;
  }

  function navigate(href, event) {
    if (!href) return;
    if (event && (event.ctrlKey || event.metaKey || event.shiftKey)) {
      window.open(href, "_blank", "noopener");
    } else {
      window.location.assign(href);
    }
  }

  function draw(figure) {
    const table = figure.querySelector(":scope > table.chart-data");
    const kind = figure.dataset.chart;
    if (!table || !KINDS.has(kind)) return null;
    const lang = language();
    const data = readTable(table, textParser(lang));
    if (!data.series.length || !data.categories.length) return null;
    const stacked = figure.dataset.stacked === "true";
    const fmt = formatters(lang, figure.dataset.percent === "true");
    const canvas = canvasOf(figure, table);
    fitHeight(canvas, kind, data, stacked);
    const base = lang.slice(0, 2);
    const chart = echarts.init(canvas, null, {
      renderer: "svg",
      locale: ECHARTS_LOCALES.has(base) ? base.toUpperCase() : "EN",
    });
    const caption = figure.querySelector(":scope > figcaption")?.textContent.trim() ?? "";
    const font = getComputedStyle(figure).fontFamily;
    const hidden = { pie: [], hbar: [1, 2, 3] }[kind] ?? [0, 2, 3];
    const options = common(caption, font, hidden);
    chart.setOption(kind === "pie"
      ? pieOption(data, fmt, options)
      : axisOption(kind, data, fmt, options, stacked, canvas.clientWidth));
    // A missing value is NaN to ECharts; the table shows a dash, and so shall its description.
    chart.on("finished", () => {
      const label = canvas.getAttribute("aria-label");
      if (label?.includes("NaN")) canvas.setAttribute("aria-label", label.replace(/\bNaN\b/g, "–"));
    });
    chart.on("click", (p) => {
      const href = p.data?.link
        ?? (p.targetType === "axisLabel" ? data.categories[p.dataIndex]?.link : null);
      navigate(href, p.event?.event);
    });
    resized.observe(canvas);
    drawn.set(figure, chart);
    return chart;
  }

  const live = new Set(); // every chart drawn, so that those a swap removed are let go

  function release(chart) {
    if (!live.has(chart)) return;
    resized.unobserve(chart.getDom());
    if (!chart.isDisposed()) chart.dispose();
    live.delete(chart);
  }

  // A figure is drawn once; again only if a swap replaced what was inside it.
  function isDrawn(figure) {
    const chart = drawn.get(figure);
    return Boolean(chart && live.has(chart) && figure.contains(chart.getDom()));
  }

  function drawAll() {
    for (const chart of live) if (!chart.getDom().isConnected) release(chart);
    for (const figure of document.querySelectorAll("figure.chart[data-chart]")) {
      if (isDrawn(figure)) continue;
      const old = drawn.get(figure);
      if (old) release(old);
      const chart = draw(figure);
      if (chart) live.add(chart);
    }
  }

  function start() {
    drawAll();
    document.body.addEventListener("htmx:afterSwap", (event) => {
      // A swap inside a drawn figure (its table, say) changed the numbers: draw it anew.
      const figure = event.target.closest?.("figure.chart");
      if (figure && drawn.has(figure)) release(drawn.get(figure));
      drawAll();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
