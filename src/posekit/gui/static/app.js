// posekit GUI: fills the pickers from /api/info, previews the chosen image on a canvas where the
// person box is drawn with the mouse, posts the form to /api/predict and shows (and offers for
// download) the results.
"use strict";

const $ = (id) => document.getElementById(id);
let models = [];
// the previewed picture: its original size, the drawn scale (canvas px per image px) and the image
const view = { width: 0, height: 0, scale: 1, image: null };
let drag = null;

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

async function loadInfo() {
  const info = await (await fetch("/api/info")).json();
  models = info.checkpoints;
  for (const c of models) {
    $("checkpoint").appendChild(option(c.index, c.label));
    $("checkpoint_b").appendChild(option(c.index, c.label));
  }
  for (const s of info.samples) {
    $("sample").appendChild(option(s.index, s.label + (s.has_gt ? " (ground truth)" : "")));
  }
  showModelInfo();
  if (!models.length) showError("No checkpoint: start the GUI with --checkpoint CKPT.");
}

function showModelInfo() {
  const lines = [];
  for (const id of ["checkpoint", "checkpoint_b"]) {
    const m = models.find((c) => String(c.index) === $(id).value);
    if (m) lines.push(`${m.label}: ${m.model}; flip test by default: ${m.flip_test ? "on" : "off"}`);
  }
  $("model_info").textContent = lines.join(" | ");
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
}

// ----------------------------------------------------------------------------- preview and box

function drawPreview() {
  const canvas = $("preview");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!view.image) return;
  ctx.drawImage(view.image, 0, 0, canvas.width, canvas.height);
  const box = parseBox();
  if (box) {
    ctx.strokeStyle = "#ff9614";
    ctx.lineWidth = 2;
    ctx.strokeRect(box[0] * view.scale, box[1] * view.scale, (box[2] - box[0]) * view.scale,
                   (box[3] - box[1]) * view.scale);
  }
}

function showPreview(src, width, height) {
  const img = new Image();
  img.onload = () => {
    view.width = width || img.naturalWidth;
    view.height = height || img.naturalHeight;
    view.scale = Math.min(480 / view.width, 480 / view.height);
    view.image = img;
    $("preview").width = Math.round(view.width * view.scale);
    $("preview").height = Math.round(view.height * view.scale);
    $("preview_note").textContent = `${view.width} x ${view.height} px; drag on the picture to draw the person box.`;
    drawPreview();
  };
  img.src = src;
}

function parseBox() {
  const v = $("bbox").value.replace(/,/g, " ").trim().split(/\s+/).map(Number);
  return v.length === 4 && v.every(Number.isFinite) && v[2] > v[0] && v[3] > v[1] ? v : null;
}

function canvasPoint(event) {
  const r = $("preview").getBoundingClientRect();
  const sx = $("preview").width / r.width;
  const sy = $("preview").height / r.height;
  const x = Math.min(Math.max((event.clientX - r.left) * sx, 0), $("preview").width);
  const y = Math.min(Math.max((event.clientY - r.top) * sy, 0), $("preview").height);
  return [x / view.scale, y / view.scale];   // original image pixels
}

function setBox(a, b) {
  const box = [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
  $("bbox").value = box.map((v) => v.toFixed(0)).join(" ");
  $("center").value = "";
  $("scale").value = "";
  drawPreview();
}

$("preview").addEventListener("mousedown", (e) => { if (view.image) drag = canvasPoint(e); });
$("preview").addEventListener("mousemove", (e) => { if (drag) setBox(drag, canvasPoint(e)); });
window.addEventListener("mouseup", (e) => {
  if (!drag) return;
  const end = canvasPoint(e);
  if (Math.abs(end[0] - drag[0]) > 2 && Math.abs(end[1] - drag[1]) > 2) setBox(drag, end);
  drag = null;
});
$("bbox").addEventListener("input", drawPreview);
$("clear_box").addEventListener("click", () => { $("bbox").value = ""; drawPreview(); });

$("image").addEventListener("change", () => {
  if (!$("image").files.length) return;
  $("sample").value = "";            // the upload wins over an earlier sample
  $("bbox").value = "";
  const reader = new FileReader();
  reader.onload = () => showPreview(reader.result);
  reader.readAsDataURL($("image").files[0]);
});

$("sample").addEventListener("change", async () => {
  $("image").value = "";             // the sample wins over an earlier upload
  $("bbox").value = "";
  if ($("sample").value === "") return;
  const reply = await fetch(`/api/sample/${$("sample").value}`);
  const body = await reply.json();
  if (!reply.ok) { showError(body.error); return; }
  showPreview(body.image, body.width, body.height);
});

$("checkpoint").addEventListener("change", showModelInfo);
$("checkpoint_b").addEventListener("change", showModelInfo);

// ----------------------------------------------------------------------------- results

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
}

function downloadLink(text, name, href) {
  const a = document.createElement("a");
  a.textContent = text;
  a.download = name;
  a.href = href;
  return a;
}

function renderResult(res, hasGt, body, index) {
  const div = document.createElement("div");
  div.className = "result";
  const h = document.createElement("h2");
  h.textContent = res.checkpoint + (res.pckh !== null ? `  (PCKh ${res.pckh}%)` : "");
  div.appendChild(h);
  const p = document.createElement("p");
  p.className = "info";
  p.textContent = `${res.model}. Flip test ${res.flip_test ? "on" : "off"} (${res.flip_source}); ` +
    `${res.people} ${res.people === 1 ? "person" : "people"}.`;
  div.appendChild(p);
  const img = document.createElement("img");
  img.className = "overlay";
  img.alt = "skeleton overlay";
  img.src = res.overlay;
  div.appendChild(img);

  const links = document.createElement("div");
  links.className = "downloads";
  const stem = body.image.name.replace(/\.[^.]*$/, "") + (index ? "_b" : "");
  const record = { image: body.image, checkpoint: res.checkpoint, model: res.model, flip_test: res.flip_test,
                   threshold: body.threshold, keypoints: res.keypoints, pckh: res.pckh, boxes: res.boxes };
  links.appendChild(downloadLink("download JSON", `${stem}_pose.json`,
    "data:application/json;charset=utf-8," + encodeURIComponent(JSON.stringify(record, null, 2))));
  links.appendChild(downloadLink("download PNG", `${stem}_pose.png`, res.overlay));
  div.appendChild(links);

  const table = document.createElement("table");
  const head = table.insertRow();
  for (const t of ["person", "joint", "x", "y", "confidence"].concat(hasGt ? ["dist / head", "correct"] : [])) {
    const th = document.createElement("th");
    th.textContent = t;
    head.appendChild(th);
  }
  for (const k of res.keypoints) {
    const row = table.insertRow();
    if ("correct" in k) row.className = k.correct ? "correct" : "wrong";
    cell(row, k.person); cell(row, k.joint); cell(row, k.x); cell(row, k.y); cell(row, k.confidence.toFixed(3));
    if (hasGt) { cell(row, "distance" in k ? k.distance : "-"); cell(row, "correct" in k ? (k.correct ? "yes" : "no") : "-"); }
  }
  div.appendChild(table);

  if (res.heatmaps.length) {
    const bar = document.createElement("div");
    bar.className = "colorbar";
    bar.innerHTML = "heat map (first person): <span>0</span><span class='bar'></span><span>1</span>";
    div.appendChild(bar);
  }
  const grid = document.createElement("div");
  grid.className = "grid";
  for (const t of res.heatmaps) {
    const fig = document.createElement("figure");
    const im = document.createElement("img");
    im.src = t.png; im.alt = t.joint + " heat map";
    im.addEventListener("click", () => {
      $("lightbox_img").src = t.png;
      $("lightbox_cap").textContent = `${res.checkpoint}: ${t.joint}`;
      $("lightbox").hidden = false;
    });
    const cap = document.createElement("figcaption");
    cap.textContent = t.joint;
    fig.appendChild(im); fig.appendChild(cap);
    grid.appendChild(fig);
  }
  div.appendChild(grid);
  return div;
}

function renderComparison(rows, names) {
  const div = $("comparison");
  div.innerHTML = "";
  if (!rows) return;
  const h = document.createElement("h2");
  h.textContent = `Per-joint differences: ${names[0]} vs ${names[1]} (first person)`;
  div.appendChild(h);
  const table = document.createElement("table");
  const head = table.insertRow();
  const gt = rows.some((r) => "a_correct" in r);
  for (const t of ["joint", "A x, y", "B x, y", "A-B distance (px)"].concat(gt ? ["A correct", "B correct"] : [])) {
    const th = document.createElement("th");
    th.textContent = t;
    head.appendChild(th);
  }
  for (const r of rows) {
    const row = table.insertRow();
    if (gt && r.a_correct !== r.b_correct) row.className = r.a_correct ? "correct" : "wrong";
    cell(row, r.joint); cell(row, r.a.join(", ")); cell(row, r.b.join(", ")); cell(row, r.distance_px);
    if (gt) { cell(row, r.a_correct ? "yes" : "no"); cell(row, r.b_correct ? "yes" : "no"); }
  }
  div.appendChild(table);
}

async function run(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("results").innerHTML = "";
  $("comparison").innerHTML = "";
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
    body.results.forEach((res, i) => $("results").appendChild(renderResult(res, body.has_gt, body, i)));
    renderComparison(body.comparison, body.results.map((r) => r.checkpoint));
  } catch (e) {
    showError("request failed: " + e);
  } finally {
    $("status").textContent = "";
  }
}

$("lightbox").addEventListener("click", () => { $("lightbox").hidden = true; });
$("form").addEventListener("submit", run);
loadInfo();
