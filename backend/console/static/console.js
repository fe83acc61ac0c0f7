// Ballast console: live inbox (server-sent events) and polling of running jobs. No inline script (CSP).
"use strict";

async function replace(id, url) {
  const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!answer.ok) return;
  const holder = document.createElement("div");
  holder.innerHTML = await answer.text();
  const fresh = holder.querySelector("#" + id);
  const old = document.getElementById(id);
  if (fresh && old) old.replaceWith(fresh);
}

function liveInbox() {
  const live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  const events = new EventSource(live.dataset.events);
  let pending = null;
  const refresh = () => {
    // a burst of changes costs one refresh
    if (pending) return;
    pending = setTimeout(async () => { pending = null; await replace("cards", live.dataset.cards); }, 150);
  };
  events.addEventListener("approvals", refresh);
  // on every (re)connect too: what changed between the page's render (or a dropped stream) and this stream
  events.addEventListener("open", refresh);
}

function pollRuns() {
  const runs = document.getElementById("runs");
  if (!runs || !runs.dataset.poll) return;
  setTimeout(async () => { await replace("runs", runs.dataset.poll); pollRuns(); }, 500);
}

document.addEventListener("DOMContentLoaded", () => { liveInbox(); pollRuns(); });
