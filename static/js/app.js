// Chargeback: the one script of our own. No inline scripts anywhere (CSP-friendly).
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("form.filters select")) el.form.requestSubmit();
});
