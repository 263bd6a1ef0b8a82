// vidact's upload page: choose or drop a video, upload it with progress, show the result.
"use strict";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const $ = (id) => document.getElementById(id);
let classes = {};  // model name -> class list, for colours that match the annotated video
let chosen = null;

function show(id, visible) { $(id).classList.toggle("hidden", !visible); }

function fail(message) {
  $("error").textContent = message;
  show("error", true);
  show("progress", false);
  $("submit").disabled = !chosen;
}

function choose(file) {
  if (!file) return;
  chosen = file;
  $("drop-text").textContent = `${file.name} (${(file.size / 1e6).toFixed(1)} MB)`;
  const preview = $("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.onerror = () => show("preview", false);  // a format the browser cannot play (AVI)
  preview.src = URL.createObjectURL(file);
  show("preview", true);
  show("error", false);
  $("submit").disabled = false;
}

const UNKNOWN = "unknown";  // the answer when the clip looks like none of the trained activities
const UNKNOWN_COLOUR = "#a0a0a0";

function colour(model, label) {
  const index = (classes[model] || []).indexOf(label);
  if (index < 0) return UNKNOWN_COLOUR;
  return PALETTE[index % PALETTE.length];
}

function seconds(value) { return `${value.toFixed(1)} s`; }

function percent(value) { return `${(value * 100).toFixed(1)}%`; }

function seek(result, start) {
  const target = result.annotated_url ? $("annotated") : $("preview");
  target.currentTime = start;
  target.play().catch(() => {});
}

function renderSegments(result) {
  const strip = $("timeline");
  const legend = $("legend");
  const rows = $("segments").tBodies[0];
  strip.replaceChildren();
  legend.replaceChildren();
  rows.replaceChildren();
  const seen = [];
  for (const part of result.timeline) {
    const text = `${part.label}, ${seconds(part.start_s)} to ${seconds(part.end_s)}, ` +
      `mean ${percent(part.mean_p)}, peak ${percent(part.peak_p)}`;
    const segment = document.createElement("button");
    segment.type = "button";
    segment.setAttribute("role", "listitem");
    segment.style.flex = `${Math.max(part.end_s - part.start_s, 0.001)} 1 0`;
    segment.style.background = colour(result.model, part.label);
    segment.title = text;
    segment.setAttribute("aria-label", text);
    segment.addEventListener("click", () => seek(result, part.start_s));
    strip.append(segment);
    const row = rows.insertRow();
    row.tabIndex = 0;
    row.style.setProperty("--swatch", colour(result.model, part.label));
    for (const value of [seconds(part.start_s), seconds(part.end_s), part.label,
                         percent(part.mean_p), percent(part.peak_p)]) {
      row.insertCell().textContent = value;
    }
    if (part.label === UNKNOWN) row.cells[2].className = "unknown";
    row.addEventListener("click", () => seek(result, part.start_s));
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") seek(result, part.start_s); });
    if (!seen.includes(part.label)) seen.push(part.label);
  }
  for (const label of seen) {
    const item = document.createElement("li");
    item.textContent = label === UNKNOWN ? "unknown (none of the trained activities)" : label;
    item.style.setProperty("--swatch", colour(result.model, label));
    legend.append(item);
  }
  return seen;
}

function render(result) {
  const top = result.top_k[0];
  const labels = renderSegments(result);
  const total = result.timeline.length ? result.timeline[result.timeline.length - 1].end_s : 0;
  const several = labels.length > 1;
  if (several) {  // the segments are the answer: lead with them, not one label for it all
    $("label").textContent = `Activities over ${seconds(total)}:`;
    $("probability").textContent = labels.join(", ");
    $("result").insertBefore($("over-time"), $("overall"));
  } else {
    const answer = result.label || top.label;
    $("label").textContent = answer === UNKNOWN ? "unknown: none of the trained activities" : answer;
    $("probability").textContent = answer === UNKNOWN
      ? `(most likely ${top.label}, ${percent(top.probability)})` : percent(top.probability);
    $("result").insertBefore($("overall"), $("over-time"));
  }
  $("label").classList.toggle("unknown", !several && result.label === UNKNOWN);
  const list = $("topk");
  list.replaceChildren();
  for (const entry of result.top_k) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = entry.label;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-label", entry.label);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "1");
    bar.setAttribute("aria-valuenow", String(entry.probability));
    const fill = document.createElement("span");
    fill.style.width = `${Math.max(1, entry.probability * 100)}%`;
    fill.style.background = colour(result.model, entry.label);
    bar.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = percent(entry.probability);
    item.append(name, bar, value);
    list.append(item);
  }
  const video = $("annotated");
  if (result.annotated_url) {
    video.src = result.annotated_url;
    show("annotated", true);
  } else {
    video.removeAttribute("src");
    show("annotated", false);
  }
  $("timeline-note").textContent = result.timeline.length > 1
    ? `${result.timeline.length} segments over ${seconds(total)}; choose one to jump to it.`
    : `One activity over ${seconds(total)}.`;
  show("result", true);
}

function submit(event) {
  event.preventDefault();
  if (!chosen) return;
  const form = new FormData();
  form.append("file", chosen, chosen.name);
  form.append("model", $("model").value);
  form.append("annotate", $("annotate").checked ? "true" : "false");
  const request = new XMLHttpRequest();
  request.open("POST", "/api/predict");
  request.responseType = "json";
  request.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    const percent = Math.round((e.loaded / e.total) * 100);
    $("upload-bar").value = percent;
    $("progress-text").textContent = `Uploading… ${percent}%`;
  });
  request.upload.addEventListener("load", () => {
    $("upload-bar").removeAttribute("value");  // indeterminate while the model works
    $("progress-text").textContent = "Predicting…";
    $("progress-text").classList.add("busy");
  });
  request.addEventListener("load", () => {
    show("progress", false);
    $("progress-text").classList.remove("busy");
    $("submit").disabled = false;
    const body = request.response || {};
    if (request.status === 200) render(body);
    else fail(body.error || `The server answered ${request.status}.`);
  });
  request.addEventListener("error", () => fail("The upload failed: is the server running?"));
  show("error", false);
  show("result", false);
  show("progress", true);
  $("upload-bar").value = 0;
  $("progress-text").textContent = "Uploading… 0%";
  $("submit").disabled = true;
  request.send(form);
}

async function start() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => choose(e.target.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => choose(e.dataTransfer.files[0]));
  $("form").addEventListener("submit", submit);
  try {
    const response = await fetch("/api/model");
    const info = await response.json();
    const select = $("model");
    for (const model of info.models) {
      classes[model.name] = model.classes;
      const option = document.createElement("option");
      option.value = option.textContent = model.name;
      select.append(option);
    }
    const first = info.models[0];
    $("model-line").textContent =
      `${first.classes.length} activities · ${first.backbone} + ${first.head}, ${first.frames} frames`;
    $("limits").textContent =
      `Any common video format, up to ${info.limits.max_upload_mb} MB and ${info.limits.max_seconds} s.`;
  } catch (err) {
    fail("Cannot reach the server.");
  }
}

start();
