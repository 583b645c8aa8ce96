// Atelier studio: the page's behaviour. Plain JavaScript, no framework, no network outside this server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { caps: null, content: null, styles: [], job: null, timer: null };

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

function showMessage(text) { $("message").textContent = text || ""; }

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the Atelier server cannot be reached; is `atelier serve` still running?");
  }
  let body = null;
  try { body = await response.json(); } catch (err) { /* not JSON */ }
  if (!response.ok) {
    throw new Error((body && body.detail) || `request failed (HTTP ${response.status})`);
  }
  return body;
}

function formatSeconds(s) {
  if (s == null) return "";
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

// ---- inputs -----------------------------------------------------------------------------------
async function uploadFile(file) {
  const form = new FormData();
  form.append("file", file);
  const info = await api("/api/uploads", { method: "POST", body: form });
  return { ref: `upload:${info.id}`, thumb: URL.createObjectURL(file), name: info.name };
}

function setContent(item) {
  state.content = item;
  const img = $("content-preview");
  img.src = item.thumb;
  img.alt = item.name;
  img.hidden = false;
}

function renderStyles() {
  const list = $("styles-list");
  list.replaceChildren(...state.styles.map((s, i) => el("div", { class: "chip" }, [
    el("img", { src: s.thumb, alt: s.name }),
    el("span", { textContent: s.name, title: s.name }),
    el("button", { type: "button", textContent: "×", title: `remove ${s.name}`,
      onclick: () => { state.styles.splice(i, 1); renderStyles(); } }),
  ])));
  document.dispatchEvent(new CustomEvent("styles-changed"));
}

async function addFiles(files, target) {
  showMessage("");
  for (const file of files) {
    try {
      const item = await uploadFile(file);
      if (target === "content") setContent(item);
      else { state.styles.push(item); renderStyles(); }
    } catch (err) {
      showMessage(`${file.name}: ${err.message}`);
    }
  }
}

function wireDrop(zone, input, target) {
  input.addEventListener("change", () => { addFiles([...input.files], target); input.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const files = [...e.dataTransfer.files];
    addFiles(target === "content" ? files.slice(0, 1) : files, target);
  });
}

function sampleButtons(container, names, onPick) {
  container.replaceChildren(...names.map((name) => el("button", {
    type: "button", title: `sample: ${name}`,
    onclick: () => onPick({ ref: `sample:${name}`, thumb: `/api/samples/${name}.jpg`, name }),
  }, [el("img", { src: `/api/samples/${name}.jpg`, alt: name })])));
  [...container.children].forEach((b, i) => { b.dataset.sample = names[i]; });
}

// ---- settings ---------------------------------------------------------------------------------
function strength() { return Math.pow(2, Number($("strength").value)); }

function applyQuality() {
  const q = state.caps.quality[$("quality").value];
  $("size").value = q.size;
  $("iterations").value = q.iterations;
}

function settings() {
  return {
    method: $("method").value,
    quality: $("quality").value,
    size: Number($("size").value),
    iterations: Number($("iterations").value),
    strength: strength(),
    color: $("color").value,
    seed: Number($("seed").value),
    look: $("look").value,
  };
}

// ---- jobs -------------------------------------------------------------------------------------
function describe(job) {
  switch (job.state) {
    case "queued":
      return `Waiting in the queue: position ${job.position} of ${job.waiting}` +
        (job.running ? ` (${job.running} job${job.running > 1 ? "s" : ""} running)` : "");
    case "running": {
      const pct = Math.round(job.fraction * 100);
      return job.eta != null ? `Painting… ${pct}% — about ${formatSeconds(job.eta)} left` : `Painting… ${pct}%`;
    }
    case "done": return `Done in ${formatSeconds(job.elapsed)}.`;
    case "cancelled": return "Cancelled.";
    default: return `Failed: ${job.error}`;
  }
}

function showImage(src) {
  const img = $("result-img");
  img.src = src;
  img.hidden = false;
  $("placeholder").hidden = true;
}

function render(job) {
  const status = $("status");
  status.textContent = describe(job);
  status.className = `status ${job.state}`;
  status.dataset.state = job.state;
  $("progress-bar").style.width = `${Math.round((job.state === "done" ? 1 : job.fraction) * 100)}%`;
  const active = job.state === "queued" || job.state === "running";
  $("cancel").hidden = !active;
  $("go").disabled = active;
  if (job.state === "done") {
    showImage(job.result_url);
    $("download").href = job.download_url;
    $("download").hidden = false;
  } else if (job.preview_url && job.preview_url !== state.shownPreview) {
    state.shownPreview = job.preview_url;
    showImage(job.preview_url);
  }
}

async function poll() {
  const id = state.job;
  if (!id) return;
  try {
    const job = await api(`/api/jobs/${id}`);
    if (state.job !== id) return;
    render(job);
    if (job.state === "queued" || job.state === "running") {
      state.timer = setTimeout(poll, 500);
    } else {
      state.job = null;
      loadHistory();
    }
  } catch (err) {
    showMessage(err.message);
    state.timer = setTimeout(poll, 2000);
  }
}

async function start() {
  showMessage("");
  if (!state.content) return showMessage("Choose a photo first (upload one or pick a sample).");
  if (!state.styles.length) return showMessage("Choose at least one style image.");
  const body = { content: state.content.ref, styles: state.styles.map((s) => s.ref), ...settings() };
  document.dispatchEvent(new CustomEvent("build-job", { detail: body }));
  try {
    const job = await api("/api/jobs", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    state.job = job.id;
    state.shownPreview = null;
    $("download").hidden = true;
    $("result-img").classList.toggle("small", job.info.size < 320);
    render(job);
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, 300);
  } catch (err) {
    showMessage(err.message);
  }
}

async function cancel() {
  if (!state.job) return;
  try { render(await api(`/api/jobs/${state.job}/cancel`, { method: "POST" })); }
  catch (err) { showMessage(err.message); }
}

// ---- history ----------------------------------------------------------------------------------
async function loadHistory() {
  let jobs;
  try { jobs = await api("/api/history"); } catch (err) { return; }
  const box = $("history");
  if (!jobs.length) return box.replaceChildren(el("p", { class: "empty", textContent: "No results yet." }));
  box.replaceChildren(...jobs.map((job) => {
    const caption = `${job.info.method} · ${job.info.size}px · ${job.state}`;
    const picture = job.result_url
      ? el("img", { src: job.result_url, alt: caption })
      : el("div", { class: "box", textContent: job.state });
    return el("button", {
      type: "button", class: "item", title: `${job.info.content} + ${job.info.styles.join(", ")}`,
      onclick: () => {
        if (!job.result_url) return;
        showImage(job.result_url);
        $("download").href = job.download_url;
        $("download").hidden = false;
        $("status").textContent = `${job.info.content} + ${job.info.styles.join(", ")} (${caption})`;
      },
    }, [picture, el("span", { textContent: caption })]);
  }));
}

// ---- start-up ---------------------------------------------------------------------------------
async function init() {
  try {
    state.caps = await api("/api/capabilities");
  } catch (err) {
    return showMessage(err.message);
  }
  const caps = state.caps;
  $("method").replaceChildren(...caps.methods.map((m) => el("option", { value: m, textContent: m })));
  $("look").replaceChildren(...caps.looks.map((l) => el("option", { value: l, textContent: l })));
  $("size").max = caps.limits.max_size;
  applyQuality();
  sampleButtons($("content-samples"), caps.samples.contents, setContent);
  sampleButtons($("style-samples"), caps.samples.styles, (item) => { state.styles.push(item); renderStyles(); });
  wireDrop($("content-drop"), $("content-input"), "content");
  wireDrop($("style-drop"), $("style-input"), "styles");
  $("quality").addEventListener("change", applyQuality);
  $("strength").addEventListener("input", () => { $("strength-value").textContent = `×${+strength().toFixed(2)}`; });
  $("go").addEventListener("click", start);
  $("cancel").addEventListener("click", cancel);
  $("footer").textContent = `Uploads up to ${caps.limits.max_upload_mb} MB and ` +
    `${(caps.limits.max_pixels / 1e6).toFixed(0)} megapixels · ${caps.limits.concurrency} job(s) at a time · ` +
    "nothing leaves this machine.";
  document.dispatchEvent(new CustomEvent("atelier-ready", { detail: caps }));
  loadHistory();
}

document.addEventListener("DOMContentLoaded", init);
