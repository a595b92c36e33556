// Chargeback charts: draws every figure a page emits with json_script. No inline scripts.
// <div class="chart" data-chart="ID"> reads the JSON in <script id="ID">; with
// data-day-link="ANCHOR", clicking a bar opens that day's requests (?day=YYYY-MM-DD#ANCHOR).
// Content swapped in by htmx (the period and filter form, sort and stack links) and pages
// restored from htmx's history are drawn too; plots being swapped out are purged first.
(function () {
  const config = { responsive: true, displaylogo: false, displayModeBar: false };

  function draw(el) {
    const source = document.getElementById(el.dataset.chart);
    if (!source || !window.Plotly || el._chargebackDrawn) return;
    el._chargebackDrawn = true; // a JS property: not kept in htmx's history snapshot
    el.replaceChildren(); // a restored snapshot keeps the old plot's markup, not the plot
    const figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(el, figure.data, figure.layout, config).then(() => {
      if (!el.dataset.dayLink) return;
      el.on("plotly_click", (event) => {
        const day = String(event.points[0].x).slice(0, 10);
        const url = new URL(window.location.href);
        url.searchParams.set("day", day);
        url.searchParams.delete("page");
        url.hash = el.dataset.dayLink;
        window.location.assign(url.toString());
      });
    });
  }

  function drawAll(root) {
    if (root.matches && root.matches("[data-chart]")) draw(root);
    if (root.querySelectorAll) root.querySelectorAll("[data-chart]").forEach(draw);
  }

  function purge(root) {
    if (!window.Plotly || !root.querySelectorAll) return;
    root.querySelectorAll("[data-chart]").forEach((el) => {
      if (el._chargebackDrawn) window.Plotly.purge(el);
    });
  }

  // Picking a date makes the period a custom range.
  document.addEventListener("change", (event) => {
    const el = event.target;
    if (!el.matches("form.showback-filters input[type=date]")) return;
    const period = el.form.querySelector("select[name=period]");
    if (period) period.value = "custom";
  });

  document.addEventListener("htmx:beforeSwap", (event) => purge(event.detail.target));
  document.addEventListener("htmx:load", (event) => drawAll(event.detail.elt));
  document.addEventListener("htmx:historyRestore", () => drawAll(document));

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => drawAll(document));
  } else {
    drawAll(document);
  }
})();
