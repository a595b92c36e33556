// Chargeback: the one script of our own. No inline scripts anywhere (CSP-friendly).
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("form.filters select")) el.form.requestSubmit();
});

// The showback filter form goes over htmx (hx-get, the URL pushed to the history): send only
// what it sets, so the pushed URL is as short as a link someone would share. A full submit
// without JavaScript sends everything, which the page reads the same way.
document.addEventListener("htmx:configRequest", (event) => {
  const form = event.detail.elt;
  const data = event.detail.formData;
  if (!data || !form.matches || !form.matches("form.showback-filters")) return;
  const custom = data.get("period") === "custom";
  for (const [name, value] of Array.from(data.entries())) {
    if (value === "" || (!custom && (name === "from" || name === "to"))) data.delete(name);
  }
  if (data.get("period") === "mtd") data.delete("period");
});

// While the showback body reloads, say so to assistive technology too.
document.addEventListener("htmx:beforeRequest", (event) => {
  const body = document.getElementById("showback");
  if (body && body.contains(event.detail.elt)) body.setAttribute("aria-busy", "true");
});
document.addEventListener("htmx:afterRequest", () => {
  const body = document.getElementById("showback");
  if (body) body.removeAttribute("aria-busy");
});

// "Copy" buttons: <button data-copy="ID"> copies the text of the element with that id, and says
// so in the element marked data-copied-for="ID".
document.addEventListener("click", async (event) => {
  const button = event.target.closest && event.target.closest("button[data-copy]");
  if (!button) return;
  const id = button.dataset.copy;
  const source = document.getElementById(id);
  const status = document.querySelector(`[data-copied-for="${id}"]`);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    if (status) status.textContent = "Copied.";
  } catch (err) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (status) status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
  }
});

// A header checkbox <input data-select-all="NAME"> ticks every checkbox named NAME in its form.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!box.matches || !box.matches("input[data-select-all]")) return;
  const form = box.closest("form");
  if (!form) return;
  for (const each of form.querySelectorAll(`input[type=checkbox][name="${box.dataset.selectAll}"]`)) {
    each.checked = box.checked;
  }
});
