// Atelier studio: the page's behaviour. Plain JavaScript, no framework, no network outside this server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { caps: null, content: null, styles: [], job: null, timer: null, shownPreview: null, lastDone: null };

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
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
  if (!response.ok) throw new Error((body && body.detail) || `request failed (HTTP ${response.status})`);
  return body;
}

const postJSON = (path, body) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
});

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
  $("mask-img").hidden = true;
  $("mask-info").textContent = "";
}

function renderStyles() {
  $("styles-list").replaceChildren(...state.styles.map((s, i) => el("div", { class: "chip" }, [
    el("img", { src: s.thumb, alt: s.name }),
    el("span", { textContent: s.name, title: s.name }),
    el("button", { type: "button", textContent: "×", title: `remove ${s.name}`,
      onclick: () => { state.styles.splice(i, 1); renderStyles(); } }),
  ])));
  $("neighbours").replaceChildren();  // a search belongs to the style it was made for
  $("augment").checked = false;
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

function sampleButtons(container, names, onPick, credits = {}) {
  container.replaceChildren(...names.map((name) => el("button", {
    type: "button", title: credits[name] ? `${name}: ${credits[name]}` : `sample: ${name}`, "data-sample": name,
    onclick: () => onPick({ ref: `sample:${name}`, thumb: `/api/samples/${name}.jpg`, name }),
  }, [el("img", { src: `/api/samples/${name}.jpg`, alt: name })])));
}

// ---- settings ---------------------------------------------------------------------------------
function strength() { return Math.pow(2, Number($("strength").value)); }
function method() { return $("method").value; }

function applyQuality() {
  const q = state.caps.quality[$("quality").value];
  $("size").value = q.size;
  $("iterations").value = q.iterations;
}

function request() {
  const body = {
    content: state.content.ref,
    styles: state.styles.map((s) => s.ref),
    method: method(),
    quality: $("quality").value,
    size: Number($("size").value),
    iterations: Number($("iterations").value),
    strength: strength(),
    color: $("color").value,
    seed: Number($("seed").value),
    look: $("look").value,
    portrait: $("portrait").checked,
  };
  const variants = Number($("variants").value);
  if ($("augment").checked || variants > 0) {
    body.augment = {
      neighbours: [...document.querySelectorAll("#neighbours input:checked")].map((c) => Number(c.value)),
      search_k: state.searchK || 12,
      recolor: $("recolor").checked,
      query_weight: state.caps.features.library.query_weight,
      variants,
    };
  }
  return body;
}

// ---- jobs -------------------------------------------------------------------------------------
function describe(job) {
  switch (job.state) {
    case "queued":
      return `Waiting in the queue: position ${job.position} of ${job.waiting}` +
        (job.running ? ` (${job.running} job${job.running > 1 ? "s" : ""} running)` : "");
    case "running": {
      if (!job.fraction) return "Starting: loading the network and the style…";
      const pct = Math.round(job.fraction * 100);
      return job.eta != null ? `Painting… ${pct}% — about ${formatSeconds(job.eta)} left` : `Painting… ${pct}%`;
    }
    case "done": {
      const n = job.results.length;
      return `Done in ${formatSeconds(job.elapsed)}${n > 1 ? ` — ${n} variants` : ""}.`;
    }
    case "cancelled": return "Cancelled.";
    default: return `Failed: ${job.error}`;
  }
}

function showImage(src, download) {
  const img = $("result-img");
  img.src = src;
  img.hidden = false;
  $("placeholder").hidden = true;
  $("download").hidden = !download;
  if (download) $("download").href = download;
}

function showResults(job) {
  showImage(job.results[0], job.downloads[0]);
  const gallery = $("gallery");
  gallery.hidden = job.results.length < 2;
  gallery.replaceChildren(...job.results.map((src, i) => el("button", {
    type: "button", class: i === 0 ? "current" : "", title: `variant ${i + 1}`,
    onclick: (e) => {
      showImage(src, job.downloads[i]);
      [...gallery.children].forEach((b) => b.classList.toggle("current", b === e.currentTarget));
    },
  }, [el("img", { src, alt: `variant ${i + 1}` })])));
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
  $("notes").hidden = !job.notes.length;
  $("notes").textContent = job.notes.join(" · ");
  if (job.state === "done") {
    showResults(job);
    state.lastDone = job;
    $("refine").hidden = job.info.method === "gatys";
  } else if (job.preview_url && job.preview_url !== state.shownPreview) {
    state.shownPreview = job.preview_url;
    showImage(job.preview_url, null);
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

async function submit(body) {
  showMessage("");
  try {
    const job = await postJSON("/api/jobs", body);
    state.job = job.id;
    state.shownPreview = null;
    $("download").hidden = true;
    $("refine").hidden = true;
    $("gallery").hidden = true;
    $("result-img").classList.toggle("small", job.info.size < 320);
    render(job);
    if (window.matchMedia("(max-width: 860px)").matches) $("output").scrollIntoView({ behavior: "smooth" });
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, 300);
  } catch (err) {
    showMessage(err.message);
  }
}

function start() {
  showMessage("");
  if (!state.content) return showMessage("Choose a photo first (upload one or pick a sample).");
  if (!state.styles.length && !(method() in state.caps.trained_styles)) {
    return showMessage("Choose at least one style image.");
  }
  submit(request());
}

function refine() {  // optimize further, starting from the last (feed-forward) result
  const last = state.lastDone;
  if (!last || !state.content || !state.styles.length) return;
  submit({ ...request(), method: "gatys", refine: last.id });
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
    const inputs = `${job.info.content} + ${job.info.styles.join(", ")}`;
    const picture = job.results.length
      ? el("img", { src: job.results[0], alt: caption })
      : el("div", { class: "box", textContent: job.state });
    return el("button", {
      type: "button", class: "item", title: inputs,
      onclick: () => {
        if (!job.results.length) return;
        showResults(job);
        $("status").textContent = `${inputs} (${caption})`;
      },
    }, [picture, el("span", { textContent: caption })]);
  }));
}

// ---- optional features --------------------------------------------------------------------------
async function previewMask() {
  showMessage("");
  if (!state.content) return showMessage("Choose a photo first.");
  $("mask-info").textContent = "Finding the person…";
  try {
    const m = await postJSON("/api/portrait/mask", { content: state.content.ref, size: Number($("size").value) });
    $("mask-img").src = m.image;
    $("mask-img").hidden = false;
    $("mask-info").textContent = m.person_found
      ? `Person: ${Math.round(m.person_area * 100)}% of the image, ${m.faces} face(s) protected.`
      : "No person found: portrait mode would stylize the whole image.";
  } catch (err) {
    $("mask-info").textContent = "";
    showMessage(err.message);
  }
}

async function searchLibrary() {
  showMessage("");
  if (!state.styles.length) return showMessage("Choose a style image first: the library is searched with it.");
  const box = $("neighbours");
  box.replaceChildren(el("p", { class: "small-note", textContent: "Searching…" }));
  try {
    const r = await postJSON("/api/library/search", { style: state.styles[0].ref, k: 12 });
    state.searchK = r.k;
    let checked = 0;
    box.replaceChildren(...r.neighbours.map((n) => {
      const pick = n.within && checked++ < state.caps.features.library.neighbours;
      return el("figure", { class: n.within ? "" : "far", title: `${n.label} — distance ${n.distance}` }, [
        el("label", {}, [  // clicking the picture toggles the checkbox
          el("input", { type: "checkbox", value: n.id, checked: pick, ariaLabel: n.label }),
          el("img", { src: n.thumb, alt: n.label }),
        ]),
        el("figcaption", { textContent: `${n.distance} · ${n.copy ? "copy of the style" : n.label}` }),
      ]);
    }));
    if (!r.neighbours.length) box.replaceChildren(el("p", { class: "small-note", textContent: "No artworks found." }));
  } catch (err) {
    box.replaceChildren();
    showMessage(err.message);
  }
}

function setUpFeatures(caps) {
  const notes = [];
  const portrait = caps.features.portrait;
  $("portrait-panel").hidden = !portrait.available;
  if (!portrait.available) notes.push(`Portrait mode is not available (${portrait.reason}).`);
  const lib = caps.features.library;
  $("library-panel").hidden = !lib.available;
  if (lib.available) $("library-size").textContent = `(${lib.size} artworks)`;
  else notes.push(`Style library: ${lib.reason}.`);
  if (!caps.feedforward.length) notes.push("Instant preview: no trained feed-forward model ships with this installation.");
  $("unavailable").replaceChildren(...notes.map((t) => el("li", { textContent: t })));
  $("mask-preview").addEventListener("click", previewMask);
  $("library-search").addEventListener("click", searchLibrary);
}

// ---- start-up ---------------------------------------------------------------------------------
async function init() {
  try {
    state.caps = await api("/api/capabilities");
  } catch (err) {
    return showMessage(err.message);
  }
  const caps = state.caps;
  const label = (m) => (m === "gatys" ? "gatys (optimization)"
    : m === caps.instant ? `${m} (instant preview, any style)`
    : m in caps.trained_styles ? `${m} (instant, its own style: ${caps.trained_styles[m]})` : `${m} (instant)`);
  $("method").replaceChildren(...caps.methods.map((m) => el("option", { value: m, textContent: label(m) })));
  $("look").replaceChildren(...caps.looks.map((l) => el("option", { value: l, textContent: l })));
  $("size").max = caps.limits.max_size;
  applyQuality();
  sampleButtons($("content-samples"), caps.samples.contents, setContent);
  sampleButtons($("style-samples"), caps.samples.styles, (item) => { state.styles.push(item); renderStyles(); },
                caps.samples.credits || {});
  wireDrop($("content-drop"), $("content-input"), "content");
  wireDrop($("style-drop"), $("style-input"), "styles");
  setUpFeatures(caps);
  $("quality").addEventListener("change", applyQuality);
  $("strength").addEventListener("input", () => { $("strength-value").textContent = `×${+strength().toFixed(2)}`; });
  $("go").addEventListener("click", start);
  $("cancel").addEventListener("click", cancel);
  $("refine").addEventListener("click", refine);
  $("footer").textContent = `Uploads up to ${caps.limits.max_upload_mb} MB and ` +
    `${(caps.limits.max_pixels / 1e6).toFixed(0)} megapixels · ${caps.limits.concurrency} job(s) at a time · ` +
    "nothing leaves this machine.";
  loadHistory();
}

document.addEventListener("DOMContentLoaded", init);
