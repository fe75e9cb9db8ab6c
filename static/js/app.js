// Small progressive enhancements; every page works without this file.
document.documentElement.classList.add("js");

// "Select all on this page": tick or untick the page's boxes, then let the form's own
// change handler (htmx) send the new selection once. Capture phase, so the boxes are set
// before the event bubbles up to the form and htmx reads them.
document.addEventListener(
  "change",
  (event) => {
    const toggle = event.target.closest("input[data-select-all]");
    if (!toggle) return;
    for (const box of toggle.form.querySelectorAll('input[type=checkbox]:not([data-select-all])')) {
      box.checked = toggle.checked;
    }
  },
  true,
);

// A confirmation sends once: the server ignores a repeat anyway, this just spares the click.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("form[data-submit-once]")) return;
  if (form.dataset.submitted) {
    event.preventDefault();
    return;
  }
  form.dataset.submitted = "1";
  const outside = form.id ? document.querySelectorAll(`button[form="${form.id}"]`) : [];
  // After this event: a button disabled now would leave its own name and value (such as
  // send=anyway) out of what the form sends.
  setTimeout(() => {
    for (const button of [...form.querySelectorAll("button[type=submit]"), ...outside]) {
      button.disabled = true;
    }
  });
});

// "/" puts the cursor in the page's search box (as on many sites), unless one is typing.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = event.target.closest("input, textarea, select, [contenteditable]");
  const search = document.querySelector("[data-search]");
  if (typing || !search) return;
  event.preventDefault();
  search.focus();
});

// A table or excerpt wider (or taller) than its box scrolls inside it: let the keyboard reach
// and scroll it too.
function letKeyboardScroll(root) {
  for (const box of root.querySelectorAll("table, pre")) {
    const scrolls = box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight;
    if (scrolls) box.tabIndex = 0;
    else if (box.getAttribute("tabindex") === "0") box.removeAttribute("tabindex");
  }
}
document.addEventListener("DOMContentLoaded", () => letKeyboardScroll(document));
document.addEventListener("htmx:afterSettle", (event) => letKeyboardScroll(event.target));
window.addEventListener("resize", () => letKeyboardScroll(document));

// A polled part (a job's progress, a reading, a count) names its state in data-announce; the
// page's polite live region repeats it only when it changes.
document.addEventListener("htmx:afterSettle", () => {
  const source = document.querySelector("[data-announce]");
  const region = document.getElementById("announce");
  if (source && region && region.textContent !== source.dataset.announce) {
    region.textContent = source.dataset.announce;
  }
});

// A search or list refresh that fails must not leave the previous answer looking current.
function showFailure(event, words) {
  const target = event.detail.target;
  if (!target || target.id !== "results") return;
  const failure = document.createElement("div");
  failure.className = "error";
  failure.setAttribute("role", "alert");
  failure.textContent = words;
  target.replaceChildren(failure);
}
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  showFailure(event, `The server could not answer (HTTP ${status}); nothing is shown until it does. Try again, or a shorter search.`);
});
document.addEventListener("htmx:sendError", (event) => {
  showFailure(event, "The server could not be reached; nothing is shown until it is. Try again.");
});

// Times come from the server in UTC; show them in the viewer's own zone, UTC on hover.
function localTimes(root) {
  for (const time of root.querySelectorAll("time[data-local]")) {
    const moment = new Date(time.getAttribute("datetime"));
    if (Number.isNaN(moment.getTime())) continue;
    const pad = (n) => String(n).padStart(2, "0");
    const withSeconds = /:\d\d:\d\d UTC$/.test(time.title);
    const withDate = /^\d{4}-/.test(time.title);
    const clock = `${pad(moment.getHours())}:${pad(moment.getMinutes())}` + (withSeconds ? `:${pad(moment.getSeconds())}` : "");
    const day = `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())} `;
    time.textContent = (withDate ? day : "") + clock;
    time.removeAttribute("data-local");
  }
}
document.addEventListener("DOMContentLoaded", () => localTimes(document));
document.addEventListener("htmx:afterSettle", (event) => localTimes(event.target));
