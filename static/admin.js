// The admin console's progressive enhancement; every page works without it.
"use strict";

// Ask before a destructive form is sent (the server still asks for its own confirmation).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// <span data-countdown="ISO time">: the server wrote the time; show how long until it.
function tick() {
  for (const element of document.querySelectorAll("[data-countdown]")) {
    const left = Math.round((Date.parse(element.dataset.countdown) - Date.now()) / 1000);
    if (left <= 0) {
      element.textContent = "now (reload the page)";
      continue;
    }
    const minutes = Math.floor(left / 60);
    element.textContent = `in ${minutes} min ${String(left % 60).padStart(2, "0")} s`;
  }
}
if (document.querySelector("[data-countdown]")) {
  tick();
  window.setInterval(tick, 1000);
}

// <form data-live>: search as you type. Fetch the same GET page the form would open and put
// its results in place; the form still submits as usual without this script.
for (const form of document.querySelectorAll("form[data-live]")) {
  let timer;
  form.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      const url = new URL(form.action);
      url.search = new URLSearchParams(new FormData(form)).toString();
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return;
      const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const selector of ["table", "nav.pager"]) {
        const now = document.querySelector(selector);
        const next = fetched.querySelector(selector);
        if (now && next) now.replaceWith(next);
      }
      window.history.replaceState(null, "", url);
    }, 250);
  });
}
