/* psinfor console: small helpers for the server-rendered pages (htmx does the refreshing). */
(function () {
  "use strict";
  document.addEventListener("submit", (e) => {
    const button = e.submitter;
    if (button && button.classList.contains("danger")) {
      const form = button.form;
      const reason = form && form.querySelector('input[name="reason"]');
      if (reason && !reason.value.trim()) {
        e.preventDefault();
        reason.focus();
        reason.setCustomValidity("give a reason: it is kept in the history");
        reason.reportValidity();
        reason.addEventListener("input", () => reason.setCustomValidity(""), {once: true});
      }
    }
  });
})();
