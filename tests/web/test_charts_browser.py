"""The chart layer (static/web/charts.js over the vendored ECharts) in a real Chromium: every
kind draws an SVG from its table, a click opens the link behind a bar or slice, ru and pl
pages speak their language, nothing breaks the Content-Security-Policy and nothing
widens a phone's page.

There is no page with charts yet, so the test page is served by Playwright at the live
server's address — with the site's policy header — and loads the real static files from
the live server through the real ``web/_chart_assets.html``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.utils import translation
from playwright.sync_api import Page, Route

from tests.web.test_csp_browser import _violations, _watch
from touchflow.web.middleware import POLICY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T = "/chart-test"  # every link below is served by the route too
ANNA_TYPE1 = f"{T}/visits/?seller=3&class=type1"
PIOTR = f"{T}/visits/?seller=4"

# The dashboard's markup contract, as in the brief: a stacked bar with a muted series, a
# cell without a link (its row's link is used), a row without links and an empty cell.
VISITS = f"""
<figure class="chart" id="visits" data-chart="bar" data-stacked="true" aria-labelledby="cap-1">
  <figcaption id="cap-1">Visits by type</figcaption>
  <div class="chart-canvas"></div>
  <table class="chart-data">
    <thead><tr><th scope="col">Seller</th><th scope="col">Type 1</th>
      <th scope="col" data-muted="true">Grey</th></tr></thead>
    <tbody>
      <tr><th scope="row"><a href="{T}/visits/?seller=3">Anna</a></th>
          <td data-value="12"><a href="{ANNA_TYPE1.replace("&", "&amp;")}">12</a></td>
          <td data-value="4">4</td></tr>
      <tr><th scope="row"><a href="{PIOTR}">Piotr</a></th>
          <td data-value="7"><a href="{T}/visits/?seller=4&amp;class=type1">7</a></td>
          <td data-value="9">9</td></tr>
      <tr><th scope="row">Olga</th><td data-value="3">3</td><td data-value="">–</td></tr>
    </tbody>
  </table>
</figure>"""


def _sales(number: str) -> str:
    """Grouped bars without a drawing area (charts.js adds one); the last cell has no
    data-value, so its text — written as the page's language writes numbers — counts."""
    return f"""
<figure class="chart" id="sales" data-chart="bar" aria-labelledby="cap-2">
  <figcaption id="cap-2">Sales</figcaption>
  <table class="chart-data">
    <thead><tr><th scope="col">Month</th><th scope="col">2025</th><th scope="col">2026</th></tr>
    </thead>
    <tbody>
      <tr><th scope="row">Jan</th><td data-value="21000">21000</td>
          <td data-value="34000">x</td></tr>
      <tr><th scope="row">Feb</th><td data-value="18000">18000</td><td>{number}</td></tr>
    </tbody>
  </table>
</figure>"""


PIE = f"""
<figure class="chart" id="classes" data-chart="pie" aria-labelledby="cap-3">
  <figcaption id="cap-3">Visits by class</figcaption>
  <div class="chart-canvas"></div>
  <table class="chart-data">
    <thead><tr><th scope="col">Class</th><th scope="col">Visits</th><th scope="col">Ignored</th>
    </tr></thead>
    <tbody>
      <tr><th scope="row"><a href="{T}/visits/?class=type1">Type 1</a></th>
          <td data-value="30">30</td><td data-value="1">1</td></tr>
      <tr><th scope="row"><a href="{T}/visits/?class=type2">Type 2</a></th>
          <td data-value="20">20</td><td data-value="1">1</td></tr>
      <tr><th scope="row" data-muted="true"><a href="{T}/visits/?class=grey">Grey</a></th>
          <td data-value="50">50</td><td data-value="1">1</td></tr>
    </tbody>
  </table>
</figure>"""

CONVERSION = """
<figure class="chart" id="conversion" data-chart="hbar" data-percent="true"
        aria-labelledby="cap-4">
  <figcaption id="cap-4">Conversion</figcaption>
  <div class="chart-canvas"></div>
  <table class="chart-data">
    <thead><tr><th scope="col">Seller</th><th scope="col">Bought</th></tr></thead>
    <tbody>
      <tr><th scope="row">Anna</th><td data-value="62.5">62.5 %</td></tr>
      <tr><th scope="row">Piotr with a rather long name for a phone</th>
          <td data-value="40">40 %</td></tr>
    </tbody>
  </table>
</figure>"""

TREND = """
<figure class="chart" id="trend" data-chart="line" aria-labelledby="cap-5">
  <figcaption id="cap-5">Visits per week</figcaption>
  <div class="chart-canvas"></div>
  <table class="chart-data">
    <thead><tr><th scope="col">Week</th><th scope="col">Visits</th><th scope="col">Sales</th>
    </tr></thead>
    <tbody>
      <tr><th scope="row">W1</th><td data-value="5">5</td><td data-value="2">2</td></tr>
      <tr><th scope="row">W2</th><td data-value="8">8</td><td data-value="3">3</td></tr>
      <tr><th scope="row">W3</th><td data-value="6">6</td><td data-value="4">4</td></tr>
    </tbody>
  </table>
</figure>"""

# Numbers written as each language writes them.
TEXT_NUMBER = {"en": "12,345.5", "ru": "12\u00a0345,5", "pl": "12\u00a0345,5"}
TEN_THOUSAND = {"en": "10,000", "ru": "10\u00a0000", "pl": "10\u00a0000"}
DESCRIPTION = {
    "en": 'This is a chart about "Visits by type"',
    "ru": 'Это график, показывающий "Visits by type"',
    "pl": 'To jest wykres dotyczący "Visits by type"',
}

# What ECharts made of a figure: its series, their data, the description, the texts drawn.
DRAWN = """(id) => {
  const canvas = document.querySelector(`#${id} > .chart-canvas`);
  const option = echarts.getInstanceByDom(canvas).getOption();
  return {
    animation: option.animation,
    series: option.series.map((s) => ({
      type: s.type, name: s.name, stack: s.stack ?? null, color: s.itemStyle?.color ?? null,
      values: s.data.map((d) => (d.value === "-" ? null : d.value)),
      names: s.data.map((d) => d.name ?? null),
      colors: s.data.map((d) => d.itemStyle?.color ?? null),
    })),
    label: canvas.getAttribute("aria-label"),
    texts: [...canvas.querySelectorAll("svg text")].map((t) => t.textContent),
  };
}"""

# The centre of bar or slice ``index`` of series ``series``, in page coordinates.
ITEM_CENTRE = """([id, series, index]) => {
  const canvas = document.querySelector(`#${id} > .chart-canvas`);
  const layout = echarts.getInstanceByDom(canvas).getModel().getSeriesByIndex(series)
    .getData().getItemLayout(index);
  const box = canvas.getBoundingClientRect();
  if (layout.cx !== undefined) {  // a pie slice: halfway out along its middle angle
    const angle = (layout.startAngle + layout.endAngle) / 2;
    const r = (layout.r + layout.r0) / 2;
    return [box.left + layout.cx + r * Math.cos(angle), box.top + layout.cy + r * Math.sin(angle)];
  }
  return [box.left + layout.x + layout.width / 2, box.top + layout.y + layout.height / 2];
}"""

ALL = ("visits", "sales", "classes", "conversion", "trend")


def _html(lang: str, body: str) -> str:
    with translation.override(lang):
        assets = render_to_string("web/_chart_assets.html")
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="/static/web/touchflow.css">{assets}</head>'
            f'<body><main class="page">{body}</main></body></html>')


def _serve(page: Page, base: str, lang: str, body: str) -> list[str]:
    """Serve the test page and the pages its links open; returns the paths asked for."""
    asked: list[str] = []

    def fulfil(route: Route) -> None:
        path = route.request.url.removeprefix(base)
        asked.append(path)
        html = _html(lang, body) if path == f"{T}/" else "<!doctype html><title>behind</title>"
        route.fulfill(status=200, body=html, content_type="text/html; charset=utf-8",
                      headers={"Content-Security-Policy": POLICY})

    page.route(f"{base}{T}/**", fulfil)
    return asked


def _show(page: Page, base: str, figures: int) -> None:
    """Open the test page and wait until each of its figures has drawn."""
    page.goto(f"{base}{T}/")
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('figure.chart')]"
        ".filter((f) => f.querySelector('.chart-canvas svg path')).length === n",
        arg=figures,
    )


def _open(page: Page, base: str, lang: str, body: str) -> list[str]:
    asked = _serve(page, base, lang, body)
    _show(page, base, body.count('<figure class="chart"'))
    return asked


def _drawn(page: Page, figure: str) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(DRAWN, figure)
    return result


def _centre(page: Page, figure: str, series: int, index: int) -> tuple[float, float]:
    x, y = page.evaluate(ITEM_CENTRE, [figure, series, index])
    return x, y


def test_each_kind_draws_one_series_per_column_within_a_phone(
    page: Page, live_server: Any
) -> None:
    page.emulate_media(reduced_motion="reduce")
    console = _watch(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    _open(page, live_server.url, "en",
          VISITS + _sales(TEXT_NUMBER["en"]) + PIE + CONVERSION + TREND)
    assert page.locator("script[src*='echarts-lang']").count() == 0

    # ECharts writes a missing value as NaN; charts.js puts the table's dash in its place
    # when the drawing is finished.
    page.wait_for_function(
        "() => !document.querySelector('#visits > .chart-canvas').ariaLabel.includes('NaN')")
    visits = _drawn(page, "visits")
    assert visits["animation"] is False
    assert [(s["type"], s["name"], s["stack"], s["color"]) for s in visits["series"]] == [
        ("bar", "Type 1", "total", "#0072B2"), ("bar", "Grey", "total", "#A0A7B1")]
    assert [s["values"] for s in visits["series"]] == [[12, 7, 3], [4, 9, None]]
    assert visits["label"] == (
        f'{DESCRIPTION["en"]}. It consists of 2 series count.'
        " The 0 series is a Bar chart representing Type 1.The data is as follows:"
        " the data for Anna is 12, the data for Piotr is 7, the data for Olga is 3. "
        " The 1 series is a Bar chart representing Grey.The data is as follows:"
        " the data for Anna is 4, the data for Piotr is 9, the data for Olga is –. ")

    sales = _drawn(page, "sales")
    assert [(s["type"], s["name"], s["stack"]) for s in sales["series"]] == [
        ("bar", "2025", None), ("bar", "2026", None)]
    assert [s["values"] for s in sales["series"]] == [[21000, 18000], [34000, 12345.5]]
    assert TEN_THOUSAND["en"] in sales["texts"]

    pie = _drawn(page, "classes")
    assert [(s["type"], s["name"]) for s in pie["series"]] == [("pie", "Visits")]
    assert pie["series"][0]["names"] == ["Type 1", "Type 2", "Grey"]
    assert pie["series"][0]["values"] == [30, 20, 50]
    assert pie["series"][0]["colors"] == ["#0072B2", "#E69F00", "#A0A7B1"]

    conversion = _drawn(page, "conversion")
    assert [(s["type"], s["name"]) for s in conversion["series"]] == [("bar", "Bought")]
    assert conversion["series"][0]["values"] == [62.5, 40]
    # The value axis speaks in percentages: "0%", "20%"…, never a bare "20".
    ticks = [t for t in conversion["texts"] if re.fullmatch(r"[\d%]+", t)]
    assert len(ticks) >= 3
    assert all(re.fullmatch(r"\d+%", t) for t in ticks), ticks

    trend = _drawn(page, "trend")
    assert [(s["type"], s["name"]) for s in trend["series"]] == [
        ("line", "Visits"), ("line", "Sales")]

    # The tooltip is built from DOM nodes with classes, no markup with style attributes.
    page.mouse.move(*_centre(page, "visits", 0, 0))
    tip = page.locator("#visits .chart-tip")
    tip.wait_for()
    assert tip.locator(".chart-tip-title").inner_text() == "Anna"
    assert tip.locator(".chart-tip-name").all_text_contents() == ["Type 1", "Grey"]
    assert tip.locator(".chart-tip-value").all_text_contents() == ["12", "4"]
    # Nothing reaches past the phone's width; each table stays below its drawing.
    widths = page.evaluate("""() => ({
        page: document.documentElement.scrollWidth, view: innerWidth,
        svgs: [...document.querySelectorAll('.chart-canvas svg')]
          .map((s) => s.getBoundingClientRect().right),
        tables: [...document.querySelectorAll('.chart-data')].map((t) => t.offsetParent !== null),
    })""")
    assert widths["page"] <= widths["view"] == 390
    assert len(widths["svgs"]) == len(ALL)
    assert max(widths["svgs"]) <= 390
    assert widths["tables"] == [True] * len(ALL)
    assert _violations(page) + console == []
    assert [url for url in requests if not url.startswith(f"{live_server.url}/")] == []
    assert {url.rsplit("/", 1)[1] for url in requests if "/static/" in url} == {
        "touchflow.css", "charts.css", "echarts.common.min.js", "charts.js"}


def test_a_click_on_a_bar_or_slice_opens_the_link_behind_it(
    page: Page, live_server: Any
) -> None:
    page.emulate_media(reduced_motion="reduce")
    console = _watch(page)
    base = live_server.url
    asked = _open(page, base, "en", VISITS + PIE)
    page.mouse.click(*_centre(page, "visits", 0, 2))  # Olga: no link anywhere, nothing opens
    page.locator("#visits .chart-tip").wait_for()  # her tooltip, over Piotr's bars
    found = _violations(page)
    with page.expect_navigation():
        page.mouse.click(*_centre(page, "visits", 1, 1))  # Piotr's grey: his row's link
    assert page.url == f"{base}{PIOTR}"
    _show(page, base, 2)
    with page.expect_navigation():
        page.mouse.click(*_centre(page, "visits", 0, 0))  # Anna's type 1: the cell's link
    assert page.url == f"{base}{ANNA_TYPE1}"
    _show(page, base, 2)
    with page.expect_navigation():
        page.mouse.click(*_centre(page, "classes", 0, 2))  # the grey slice: its row's link
    assert page.url == f"{base}{T}/visits/?class=grey"
    _show(page, base, 2)
    found += _violations(page)
    with page.expect_navigation():  # a category's label: its row's link
        page.locator("#visits svg text").filter(has_text="Piotr").click()
    assert page.url == f"{base}{PIOTR}"
    assert asked == [f"{T}/", PIOTR, f"{T}/", ANNA_TYPE1, f"{T}/", f"{T}/visits/?class=grey",
                     f"{T}/", PIOTR]
    assert found + console == []


@pytest.mark.parametrize("lang", ["ru", "pl"])
def test_russian_and_polish_pages_use_their_locale(
    page: Page, live_server: Any, lang: str
) -> None:
    console = _watch(page)
    _open(page, live_server.url, lang, VISITS + _sales(TEXT_NUMBER[lang]))
    sources = page.eval_on_selector_all("script[src]", "(ss) => ss.map((s) => s.src)")
    assert [s.rsplit("/", 1)[1] for s in sources] == [
        "echarts.common.min.js", f"echarts-lang{lang.upper()}.js", "charts.js"]
    assert _drawn(page, "visits")["label"].startswith(DESCRIPTION[lang])
    sales = _drawn(page, "sales")
    assert sales["series"][1]["values"] == [34000, 12345.5]
    assert TEN_THOUSAND[lang] in sales["texts"]
    assert TEN_THOUSAND["en"] not in sales["texts"]
    assert _violations(page) + console == []


def test_figures_an_htmx_swap_brings_are_drawn_and_the_others_kept(
    page: Page, live_server: Any
) -> None:
    console = _watch(page)
    _open(page, live_server.url, "en", f'<div id="first">{VISITS}</div><div id="slot"></div>')
    assert _drawn(page, "visits")["animation"] is True  # no reduced-motion preference
    before = page.get_attribute("#visits .chart-canvas", "_echarts_instance_")
    # What htmx does on a swap, without htmx: new markup in, then the event on its target.
    page.evaluate("""([trend]) => {
        const slot = document.getElementById('slot');
        slot.innerHTML = trend;
        slot.dispatchEvent(new CustomEvent('htmx:afterSwap', {bubbles: true}));
    }""", [TREND])
    page.wait_for_selector("#trend .chart-canvas svg path", state="attached")
    assert [s["name"] for s in _drawn(page, "trend")["series"]] == ["Visits", "Sales"]
    assert page.get_attribute("#visits .chart-canvas", "_echarts_instance_") == before
    # The drawing follows its container's width.
    page.set_viewport_size({"width": 700, "height": 844})
    page.wait_for_function("""() => {
        const canvas = document.querySelector('#trend > .chart-canvas');
        const svg = canvas.querySelector('svg');
        return canvas.clientWidth > 390 && svg.width.baseVal.value === canvas.clientWidth;
    }""")
    # A swap that takes a figure away lets its chart go.
    gone = page.evaluate("""() => {
        const canvas = document.querySelector('#visits .chart-canvas');
        document.getElementById('first').remove();
        document.body.dispatchEvent(new CustomEvent('htmx:afterSwap', {bubbles: true}));
        return echarts.getInstanceByDom(canvas) === undefined;
    }""")
    assert gone is True
    assert _violations(page) + console == []
