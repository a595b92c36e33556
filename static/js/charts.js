// Chargeback charts: draws every figure a page emits with json_script. No inline scripts.
// <div class="chart" data-chart="ID"> reads the JSON in <script id="ID">; with
// data-day-link="ANCHOR", clicking a bar opens that day's requests (?day=YYYY-MM-DD#ANCHOR).
(function () {
  const config = { responsive: true, displaylogo: false, displayModeBar: false };

  function draw(el) {
    const source = document.getElementById(el.dataset.chart);
    if (!source || !window.Plotly) return;
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

  function drawAll() {
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  // Picking a date makes the period a custom range.
  document.addEventListener("change", (event) => {
    const el = event.target;
    if (!el.matches("form.showback-filters input[type=date]")) return;
    const period = el.form.querySelector("select[name=period]");
    if (period) period.value = "custom";
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
