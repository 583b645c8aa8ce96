// Blind A/B study page: fetch a question, show it, post the vote, repeat.
"use strict";
let current = null;
let busy = false;

async function respondent() {
  let id = localStorage.getItem("atelier-respondent");
  if (!id) {
    const r = await fetch("/api/respondent", { method: "POST" });
    id = (await r.json()).respondent;
    localStorage.setItem("atelier-respondent", id);
  }
  return id;
}

function show(id, url) {
  const img = document.getElementById(id);
  document.getElementById(id + "-fig")?.toggleAttribute("hidden", !url);
  if (url) img.src = url;
}

function loaded(ids) {
  return Promise.all(ids.map((id) => {
    const img = document.getElementById(id);
    return img.complete && img.naturalWidth ? null : new Promise((ok) => { img.onload = ok; img.onerror = ok; });
  }));
}

async function next() {
  let id = await respondent();
  let r = await fetch("/api/next?respondent=" + encodeURIComponent(id));
  if (r.status === 403) {  // an id of another study (or an old server): ask for a new one
    localStorage.removeItem("atelier-respondent");
    id = await respondent();
    r = await fetch("/api/next?respondent=" + encodeURIComponent(id));
  }
  if (!r.ok) throw new Error("server error " + r.status);
  const q = await r.json();
  document.getElementById("question").hidden = q.done;
  document.getElementById("done").hidden = !q.done;
  if (q.done) {
    document.getElementById("progress").textContent = q.total + " of " + q.total + " answered";
    current = null;
    return;
  }
  current = q;
  document.getElementById("progress").textContent = "Question " + q.number + " of " + q.total;
  show("content", q.content);
  show("style", q.style);
  show("left", q.left);
  show("right", q.right);
  await loaded(["left", "right"]);
  document.body.dataset.question = String(q.question);
  document.body.dataset.ready = String(q.number);  // question q.number is fully shown (tests wait for it)
}

async function pick(choice) {
  if (!current || busy) return;
  busy = true;
  try {
    const r = await fetch("/api/vote", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ respondent: await respondent(), question: current.question, choice }),
    });
    if (!r.ok && r.status !== 409) throw new Error("vote not saved (" + r.status + ")");
    document.getElementById("error").textContent = "";
    await next();
  } catch (e) {
    document.getElementById("error").textContent = e.message;
  } finally {
    busy = false;
  }
}

for (const side of ["left", "right"]) {
  document.getElementById("pick-" + side).addEventListener("click", () => pick(side));
  document.getElementById(side).addEventListener("click", () => pick(side));
}
document.addEventListener("keydown", (e) => { if (e.key === "1") pick("left"); if (e.key === "2") pick("right"); });
next().catch((e) => { document.getElementById("error").textContent = e.message; });
