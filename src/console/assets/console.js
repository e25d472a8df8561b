// shelfsync console: the only script the Content-Security-Policy allows. Everything works
// without it; it refreshes the overview every few seconds and completes a one-click sign-in link.
"use strict";

(function () {
  // A sign-in link carries the token in the fragment (`/signin#token=ssk_…`), which the browser
  // never sends to a server: fill the form, forget the fragment, submit.
  const form = document.getElementById("signin");
  if (form && location.hash.startsWith("#token=")) {
    const token = decodeURIComponent(location.hash.slice("#token=".length));
    history.replaceState(null, "", location.pathname);
    document.getElementById("token").value = token;
    form.submit();
  }

  // The overview's rows, refreshed from the same origin while the page is open.
  const table = document.getElementById("overview");
  if (table && table.dataset.refresh) {
    const body = document.getElementById("rows");
    setInterval(async function () {
      try {
        const reply = await fetch(table.dataset.refresh, { credentials: "same-origin" });
        if (reply.ok) {
          body.innerHTML = await reply.text();
          table.dataset.refreshed = String(Date.now());
        }
      } catch (_) {
        // The next tick tries again.
      }
    }, 5000);
  }
})();
