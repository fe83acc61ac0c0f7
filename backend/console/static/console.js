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
  events.addEventListener("approvals", () => {
    // a burst of changes costs one refresh
    if (pending) return;
    pending = setTimeout(async () => { pending = null; await replace("cards", live.dataset.cards); }, 150);
  });
}

function pollRuns() {
  const runs = document.getElementById("runs");
  if (!runs || !runs.dataset.poll) return;
  setTimeout(async () => { await replace("runs", runs.dataset.poll); pollRuns(); }, 500);
}

document.addEventListener("DOMContentLoaded", () => { liveInbox(); pollRuns(); });
