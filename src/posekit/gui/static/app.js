// posekit GUI: fills the pickers from /api/info, posts the form to /api/predict, shows the results.
"use strict";

const $ = (id) => document.getElementById(id);

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

async function loadInfo() {
  const info = await (await fetch("/api/info")).json();
  for (const c of info.checkpoints) {
    $("checkpoint").appendChild(option(c.index, c.label));
    $("checkpoint_b").appendChild(option(c.index, c.label));
  }
  for (const s of info.samples) {
    $("sample").appendChild(option(s.index, s.label + (s.has_gt ? " (ground truth)" : "")));
  }
  if (!info.checkpoints.length) showError("No checkpoint: start the GUI with --checkpoint CKPT.");
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
}

function renderResult(res, hasGt) {
  const div = document.createElement("div");
  div.className = "result";
  const h = document.createElement("h2");
  h.textContent = res.checkpoint + (res.pckh !== null ? `  (PCKh ${res.pckh}%)` : "");
  div.appendChild(h);
  const img = document.createElement("img");
  img.className = "overlay";
  img.alt = "skeleton overlay";
  img.src = res.overlay;
  div.appendChild(img);

  const table = document.createElement("table");
  const head = table.insertRow();
  for (const t of ["joint", "x", "y", "confidence"].concat(hasGt ? ["dist / head", "correct"] : [])) {
    const th = document.createElement("th");
    th.textContent = t;
    head.appendChild(th);
  }
  for (const k of res.keypoints) {
    const row = table.insertRow();
    if ("correct" in k) row.className = k.correct ? "correct" : "wrong";
    cell(row, k.joint); cell(row, k.x); cell(row, k.y); cell(row, k.confidence.toFixed(3));
    if (hasGt) { cell(row, "distance" in k ? k.distance : "-"); cell(row, "correct" in k ? (k.correct ? "yes" : "no") : "-"); }
  }
  div.appendChild(table);

  const grid = document.createElement("div");
  grid.className = "grid";
  for (const t of res.heatmaps) {
    const fig = document.createElement("figure");
    const im = document.createElement("img");
    im.src = t.png; im.alt = t.joint + " heat map"; im.width = 96; im.height = 96;
    const cap = document.createElement("figcaption");
    cap.textContent = t.joint;
    fig.appendChild(im); fig.appendChild(cap);
    grid.appendChild(fig);
  }
  div.appendChild(grid);
  return div;
}

async function run(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("results").innerHTML = "";
  $("summary").textContent = "";
  $("status").textContent = "running...";
  const data = new FormData($("form"));
  if (!$("image").files.length) data.delete("image");
  try {
    const reply = await fetch("/api/predict", { method: "POST", body: data });
    let body;
    try { body = await reply.json(); } catch (e) { body = { error: `HTTP ${reply.status}` }; }
    if (!reply.ok) { showError(body.error || `HTTP ${reply.status}`); return; }
    let text = `${body.image.name}: ${body.image.width} x ${body.image.height} px.`;
    if (body.has_gt) text += ` Ground truth at PCKh@${body.threshold}; head size ${body.head_size} px (${body.head_size_source}).`;
    else text += " No ground truth for this image.";
    $("summary").textContent = text;
    for (const res of body.results) $("results").appendChild(renderResult(res, body.has_gt));
  } catch (e) {
    showError("request failed: " + e);
  } finally {
    $("status").textContent = "";
  }
}

$("image").addEventListener("change", () => { if ($("image").files.length) $("sample").value = ""; });
$("form").addEventListener("submit", run);
loadInfo();
