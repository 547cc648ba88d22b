// Açık Kapı portal enhancements. Every page works without this file; it
// only moves focus to the error summary, stops a double submission, and on
// a kiosk erases the visit after inactivity. Loaded as a module, so old
// browsers skip it (and get the plain HTML).
document.body.classList.add("js-enabled");

// Focus the error summary so a screen reader reads it first (GOV.UK pattern).
const summary = document.querySelector("[data-module='error-summary']");
if (summary) {
  summary.focus();
  summary.querySelectorAll("a[href^='#']").forEach((a) => {
    a.addEventListener("click", (e) => {
      const input = document.getElementById(a.getAttribute("href").slice(1));
      if (!input) return;
      e.preventDefault();
      const group = input.closest(".form-group") || input;
      group.scrollIntoView();
      input.focus({ preventScroll: true });
    });
  });
}

// A second press within a few seconds does not send the form again (the
// server is idempotent anyway; this spares a round trip).
document.querySelectorAll("[data-prevent-double-click='true']").forEach((b) => {
  let last = 0;
  b.form?.addEventListener("submit", (e) => {
    const now = Date.now();
    if (now - last < 5000) e.preventDefault();
    last = now;
  });
});

// Kiosk: after the configured inactivity the visit ends and is erased on
// the server (the server erases the session at the same age regardless).
const idle = Number(document.body.dataset.idle || 0);
if (idle > 0) {
  let timer;
  const reset = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { window.location.assign("/kiosk/bitir"); }, idle * 1000);
  };
  ["pointerdown", "keydown", "input", "scroll"].forEach((ev) =>
    document.addEventListener(ev, reset, { passive: true }));
  reset();
}
