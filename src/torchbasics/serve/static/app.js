// torchbasics serve: the page's behaviour. Plain JavaScript, no libraries, no build step.
// Everything the server sends is put on the page with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const STROKE = 22;          // pen width on the 280x280 pad: MNIST strokes are ~1/10 of a digit
const TOP = 3;              // classes shown

let models = [];            // from GET /api/models
let current = null;         // the selected model
let selection = 0;          // bumped on every choice of model (see chosenNow)
let strokes = [];           // the drawing: a list of strokes, each a list of [x, y]
let version = 0;            // bumped on every change of the drawing
let inFlight = false;       // one drawing prediction at a time ...
let again = false;          // ... and one more if the drawing changed meanwhile

// ---------------------------------------------------------------- talking to the server

async function call(url, options) {
  // The JSON answer, or throw the server's one-line error message.
  let response;
  try {
    response = await fetch(url, options);
  } catch (err) {
    throw new Error("the server cannot be reached (is `torchbasics serve` still running?)");
  }
  let body = null;
  try { body = await response.json(); } catch (err) { /* not JSON: described below */ }
  if (!response.ok) {
    throw new Error((body && body.error) || `the server answered ${response.status}`);
  }
  return body;
}

function predictUrl() {
  const inside = $("inside-on").checked ? "&inside=true" : "";
  return `/api/models/${encodeURIComponent(current.name)}/predict?seen=true&top=${TOP}${inside}`;
}

function chosenNow() {
  // A check to make when an answer comes back: is the model it was asked of still the
  // chosen one? select() clears the panels for the new model, so a late answer for the
  // old one must not be shown under it. (A count, not a model: choosing A, B, then A again
  // still drops A's first answer, asked for a panel that has since been cleared.)
  const asked = selection;
  return () => asked === selection;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

// ---------------------------------------------------------------- models and their cards

function percent(value) {
  return `${(100 * value).toFixed(2)} %`;
}

function cardFacts(model) {
  const card = model.card || {};
  const facts = [["data", model.dataset || card.dataset || "?"]];
  if (card.test_error != null) facts.push(["test error", percent(card.test_error)]);
  if (card.test_rmse != null) facts.push(["test RMSE", card.test_rmse.toFixed(2)]);
  if (card.test_accuracy != null) facts.push(["test accuracy", percent(card.test_accuracy)]);
  if (card.parameters != null) facts.push(["parameters", card.parameters.toLocaleString("en")]);
  if (card.trained) facts.push(["trained", card.trained.replace("T", " ").slice(0, 16)]);
  return facts;
}

function renderCards() {
  const box = $("models");
  $("loading").remove();
  for (const model of models) {
    const label = document.createElement("label");
    label.className = "card";
    const input = document.createElement("input");
    Object.assign(input, { type: "radio", name: "model", value: model.name });
    input.addEventListener("change", () => select(model.name));
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = model.name;
    const list = document.createElement("dl");
    for (const [term, value] of cardFacts(model)) {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      list.append(dt, dd);
    }
    label.append(input, name, list);
    box.append(label);
  }
}

function select(name) {
  current = models.find((m) => m.name === name) || models[0];
  selection += 1;
  for (const input of document.querySelectorAll('input[name="model"]')) {
    input.checked = input.value === current.name;
  }
  if (location.hash !== `#${current.name}`) history.replaceState(null, "", `#${current.name}`);
  showError("");
  resetResults();
  const tabular = current.kind === "tabular";
  $("image-panel").hidden = tabular;
  $("table-panel").hidden = !tabular;
  if (tabular) {
    buildTableForm();
  } else {
    $("draw").hidden = !current.digits;
    $("upload-title").textContent = current.digits ? "Or upload a picture" : "Upload a picture";
    if (current.digits && strokes.length) predictDrawing();
  }
}

// ---------------------------------------------------------------- results of image models

function resetResults() {
  $("top").replaceChildren();
  $("placeholder").hidden = false;
  $("seen-figure").hidden = true;
  $("inside-body").hidden = true;
  $("inside-placeholder").hidden = false;
  $("weights-figure").hidden = true;
}

function showPrediction(prediction, drawingVersion) {
  const list = $("top");
  list.replaceChildren();
  for (const entry of prediction.top) {
    const item = document.createElement("li");
    item.dataset.label = entry.label;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = entry.class;
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${Math.max(0, Math.min(100, 100 * entry.probability))}%`;
    bar.append(fill);
    const value = document.createElement("span");
    value.className = "percent";
    value.textContent = percent(entry.probability);
    item.append(name, bar, value);
    list.append(item);
  }
  $("placeholder").hidden = true;
  const picture = prediction.deskewed || prediction.seen;
  if (picture) {
    drawPixels($("seen"), picture);
    $("seen-caption").textContent = seenCaption(prediction);
    $("seen-figure").hidden = false;
  }
  if (prediction.inside) showInside(prediction.inside, drawingVersion);
  $("results").dataset.version = String(drawingVersion);
}

function drawPixels(canvas, rows) {
  // rows: H lists of W pixels 0-255, each a gray level or an [r, g, b] triple
  const height = rows.length, width = rows[0].length;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  rows.flat().forEach((pixel, i) => {
    const [r, g, b] = Array.isArray(pixel) ? pixel : [pixel, pixel, pixel];
    image.data.set([r, g, b, 255], 4 * i);
  });
  context.putImageData(image, 0, 0);
}

function seenCaption(prediction) {
  const size = `${prediction.seen.length}×${prediction.seen[0].length}`;
  if (current.photo) return `What the model saw (${size}, resized by ${current.resize})`;
  return prediction.deskewed
    ? `What the model saw (${size}, cropped, centred, deskewed)`
    : `What the model saw (${size}, cropped and centred)`;
}

// ---------------------------------------------------------------- the Inside view

const UNITS_SHOWN = 64;  // hidden units drawn, the most influential first

function signedColour(value, scale) {
  // Red for positive, blue for negative, white for zero: as `torchbasics explain` draws them.
  const t = Math.max(-1, Math.min(1, scale > 0 ? value / scale : 0));
  const fade = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? [255, fade, fade] : [fade, fade, 255];
}

function largest(rows) {
  return rows.flat().reduce((top, value) => Math.max(top, Math.abs(value)), 1e-12);
}

function drawSigned(canvas, rows, scale) {
  const height = rows.length, width = rows[0].length;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  rows.flat().forEach((value, i) => image.data.set([...signedColour(value, scale), 255], 4 * i));
  context.putImageData(image, 0, 0);
}

function showInside(view, drawingVersion) {
  const attribution = view.attribution;
  drawSigned($("attribution"), attribution.map, largest(attribution.map));
  $("attribution-caption").textContent =
    `${attribution.method}: the pixels behind “${attribution.class}”`;
  $("layers").replaceChildren(...view.layers.map(layerView));
  $("weights-figure").hidden = true;
  $("inside-placeholder").hidden = true;
  $("inside-body").hidden = false;
  $("inside").dataset.version = String(drawingVersion);
}

function layerView(layer) {
  // One layer: feature or contribution maps as small pictures, or units as bars.
  const section = document.createElement("div");
  section.className = "layer";
  const title = document.createElement("h3");
  title.textContent = layer.name;
  const items = document.createElement("div");
  items.className = layer.kind === "units" ? "items units" : "items maps";
  const shown = layer.kind === "units" ? layer.items.slice(0, UNITS_SHOWN) : layer.items;
  const top = shown.reduce((most, item) => Math.max(most, Math.abs(item.value)), 1e-12);
  const scale = layer.kind === "maps"
    ? shown.reduce((most, item) => Math.max(most, largest(item.map)), 1e-12) : top;
  for (const item of shown) {
    const button = document.createElement("button");
    Object.assign(button, { type: "button", className: "item",
                            title: `${item.label}: ${item.value.toPrecision(3)}` });
    button.dataset.layer = String(layer.layer);
    button.dataset.index = String(item.index);
    button.setAttribute("aria-label", `${item.label}, ${item.value.toPrecision(3)}: show its weights`);
    if (layer.kind === "maps") {
      const canvas = document.createElement("canvas");
      drawSigned(canvas, item.map, scale);
      const label = document.createElement("span");
      label.textContent = item.label;
      button.append(canvas, label);
    } else {
      const bar = document.createElement("span");
      bar.style.height = `${Math.max(0, 100 * item.value / top)}%`;  // ReLU, sigmoid: ≥ 0
      button.append(bar);
    }
    button.addEventListener("click", () => showWeights(button, item.label));
    items.append(button);
  }
  section.append(title, items);
  return section;
}

async function showWeights(button, label) {
  for (const chosen of document.querySelectorAll(".item.chosen")) chosen.classList.remove("chosen");
  button.classList.add("chosen");
  const { layer, index } = button.dataset;
  const url = `/api/models/${encodeURIComponent(current.name)}/weights?layer=${layer}&index=${index}`;
  const stillChosen = chosenNow();
  try {
    const answer = await call(url);
    if (!stillChosen()) return;
    drawSigned($("weights"), answer.weights, largest(answer.weights));
    $("weights-caption").textContent = `${label}: ${answer.caption}`;
    const figure = $("weights-figure");
    figure.dataset.shown = `${layer}/${index}`;
    figure.hidden = false;
  } catch (err) {
    if (stillChosen()) showError(err.message);
  }
}

$("inside-on").addEventListener("change", () => {
  $("inside-body").hidden = true;
  $("inside-placeholder").hidden = false;
  if (current && current.digits && strokes.length) predictDrawing();
});

// ---------------------------------------------------------------- the drawing pad

const pad = $("pad");
const pen = pad.getContext("2d");

function clearPad() {
  pen.fillStyle = "#fff";  // opaque white paper: the PNG has no transparency to interpret
  pen.fillRect(0, 0, pad.width, pad.height);
}

function drawStroke(points) {
  pen.strokeStyle = "#000";
  pen.fillStyle = "#000";
  pen.lineWidth = STROKE;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  if (points.length === 1) {
    pen.beginPath();
    pen.arc(points[0][0], points[0][1], STROKE / 2, 0, 2 * Math.PI);
    pen.fill();
    return;
  }
  pen.beginPath();
  pen.moveTo(points[0][0], points[0][1]);
  for (const [x, y] of points.slice(1)) pen.lineTo(x, y);
  pen.stroke();
}

function redraw() {
  clearPad();
  strokes.forEach(drawStroke);
}

function padPoint(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width,
          (event.clientY - box.top) * pad.height / box.height];
}

function changed() {
  version += 1;
  pad.dataset.version = String(version);
  if (strokes.length) {
    predictDrawing();
  } else {
    resetResults();
    $("results").dataset.version = String(version);
  }
}

let drawing = null;  // the stroke under the pointer, while it is down

pad.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = [padPoint(event)];
  strokes.push(drawing);
  drawStroke(drawing);
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) drawing.push(padPoint(e));
  drawStroke(drawing);  // the whole stroke again: one path, so no seams between segments
  changed();  // live: predictions follow the pen
});

function endStroke() {
  if (!drawing) return;
  drawing = null;
  changed();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

$("undo").addEventListener("click", () => { strokes.pop(); redraw(); changed(); });
$("clear").addEventListener("click", () => { strokes = []; redraw(); changed(); });

document.addEventListener("keydown", (event) => {
  if (!current || current.kind === "tabular" || !current.digits) return;
  if (event.target.matches("input[type=number], input[type=text], textarea")) return;
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
    event.preventDefault();
    $("undo").click();
  } else if (event.key === "Escape") {
    $("clear").click();
  }
});

function predictDrawing() {
  // At most one request in flight; when it returns, one more if the drawing changed or
  // another model was chosen meanwhile (select() asks too, and may find one in flight).
  if (inFlight) { again = true; return; }
  inFlight = true;
  again = false;
  const asked = version;
  const stillChosen = chosenNow();
  const url = predictUrl();  // now: the model may change before toBlob calls back
  pad.toBlob(async (blob) => {
    try {
      const answer = await call(url, {
        method: "POST", body: blob, headers: { "Content-Type": "image/png" },
      });
      if (stillChosen() && asked === version) {
        showError("");
        showPrediction(answer.predictions[0], asked);
      }
    } catch (err) {
      if (stillChosen() && asked === version) {
        showError(err.message);
        resetResults();
        $("results").dataset.version = String(asked);
      }
    } finally {
      inFlight = false;
      // The one more is for the model chosen now, not the one this answer was for: a model
      // chosen while this was in flight has no answer yet (this one was dropped above).
      if (again && strokes.length && current.digits) predictDrawing();
    }
  }, "image/png");
}

// ---------------------------------------------------------------- uploads: pick, drop, paste

async function predictFile(file) {
  if (!file || !current || current.kind === "tabular") return;
  const preview = $("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  const form = new FormData();
  form.append("image", file, file.name || "pasted.png");
  const stillChosen = chosenNow();
  try {
    const answer = await call(predictUrl(), { method: "POST", body: form });
    if (!stillChosen()) return;
    showError("");
    showPrediction(answer.predictions[0], "upload");
  } catch (err) {
    if (!stillChosen()) return;
    showError(err.message);
    resetResults();
  }
}

$("file").addEventListener("change", (event) => predictFile(event.target.files[0]));

const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  predictFile(event.dataTransfer.files[0]);
});
document.addEventListener("paste", (event) => {
  const items = [...(event.clipboardData ? event.clipboardData.items : [])];
  const picture = items.find((item) => item.kind === "file" && item.type.startsWith("image/"));
  if (picture) {
    event.preventDefault();
    predictFile(picture.getAsFile());
  }
});

// ---------------------------------------------------------------- a table model's form

function numberInput(field) {
  const input = document.createElement("input");
  Object.assign(input, { type: "number", name: field.key, id: `input-${field.key}`,
                         step: field.integer ? "1" : "any" });
  input.setAttribute("inputmode", field.integer ? "numeric" : "decimal");
  input.dataset.kind = "numeric";
  if (field.minimum != null) input.min = String(field.minimum);
  if (field.maximum != null) input.max = String(field.maximum);
  if (field.median != null) input.placeholder = `e.g. ${Number(field.median.toPrecision(4))}`;
  return input;
}

function categoryInput(field) {
  const select = document.createElement("select");
  Object.assign(select, { name: field.key, id: `input-${field.key}` });
  select.dataset.kind = "categorical";
  const empty = document.createElement("option");
  Object.assign(empty, { value: "", textContent: "(missing)" });
  select.append(empty);
  for (const level of field.levels) {
    const option = document.createElement("option");
    Object.assign(option, { value: level, textContent: level });
    select.append(option);
  }
  return select;
}

function buildTableForm() {
  const box = $("table-inputs");
  box.replaceChildren();
  for (const field of current.inputs) {
    const label = document.createElement("label");
    label.textContent = field.name.replaceAll("_", " ");
    const input = field.kind === "categorical" ? categoryInput(field) : numberInput(field);
    const hint = document.createElement("small");
    hint.textContent = field.allowed;
    label.append(input, hint);
    box.append(label);
  }
  $("table-target").textContent = current.target;
  $("formula-box").hidden = !current.card.formula;
  $("formula").textContent = current.card.formula || "";
  $("table-value").textContent = "–";
  $("filled-in").hidden = true;
}

function tableRow() {
  // An empty box is sent as null: a missing value, which the model fills in.
  const row = {};
  for (const input of $("table-inputs").querySelectorAll("input, select")) {
    if (input.value === "") row[input.name] = null;
    else row[input.name] = input.dataset.kind === "numeric" ? Number(input.value) : input.value;
  }
  return row;
}

function answerText(answer) {
  if (answer.value != null) {
    return answer.value.toLocaleString("en", { minimumFractionDigits: 2,
                                                maximumFractionDigits: 2 });
  }
  return `${answer.class} (${percent(answer.probability)})`;
}

$("table-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const output = $("table-value");
  const note = $("filled-in");
  const stillChosen = chosenNow();
  try {
    const answer = await call(`/api/models/${encodeURIComponent(current.name)}/predict`, {
      method: "POST", body: JSON.stringify(tableRow()),
      headers: { "Content-Type": "application/json" },
    });
    if (!stillChosen()) return;  // the form now is another model's
    showError("");
    const prediction = answer.predictions[0];
    output.textContent = answerText(prediction);
    note.textContent = prediction.filled_in ? `Filled in: ${prediction.filled_in}.` : "";
    note.hidden = !prediction.filled_in;
  } catch (err) {
    if (!stillChosen()) return;
    showError(err.message);
    output.textContent = "–";
    note.hidden = true;
  }
  output.dataset.version = String(Number(output.dataset.version) + 1);
});

// ---------------------------------------------------------------- start

async function start() {
  clearPad();
  try {
    models = (await call("/api/models")).models;
  } catch (err) {
    showError(err.message);
    return;
  }
  renderCards();
  select(decodeURIComponent(location.hash.slice(1)));
}

start();
