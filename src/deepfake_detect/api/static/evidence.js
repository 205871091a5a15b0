// The result view: the evidence image with boxes and heat maps, the faces, the technical details.
import { setAddress } from "./address.js";
import { $, apiUrl, el, formatDate, formatSeconds, getJson, percent } from "./client.js";
import { renderCredentials } from "./provenance.js";
import { fileHash, renderReport } from "./report.js";
import { renderReview } from "./review.js";
import { service } from "./service.js";
import { renderTimeline } from "./timeline.js";
import { declared, verdictWords } from "./verdicts.js";
import { BOX_FAKE, BOX_REAL, POLL_MAX_MS } from "./words.js";

// ---------------------------------------------------------------- the result view
// autoShow: the next finished upload replaces the result on screen (until the person picks one).
export const view = { result: null, autoShow: false, heatmap: false, watch: 0 };

export function faceLabel(result, face, index) {
  return result.media_kind === "video" ? `Person ${face.track + 1}` : `Face ${index + 1}`;
}

/** Faces drawn on the evidence image: those of the evidence frame (every face, for a photo). */
export function evidenceFaces(result) {
  if (result.evidence_frame_index === null || result.evidence_frame_index === undefined) return [];
  return (result.faces || []).filter((f) => f.frame_index === result.evidence_frame_index);
}

export const PAGE_TITLE = "Deepfake check";

/** Show a result. The address names it: a new history entry for a result the person opened (so
 * back returns to what was on screen), none for an update of the same result or a result opened
 * from the address itself (`fromAddress`: a link, back or forward). */
export function showResult(result, { focus, update = false, fromAddress = false }) {
  view.result = result;
  if (!update) view.autoShow = false;
  clearTimeout(view.watch);
  const panel = $("result-panel");
  panel.hidden = false;
  panel.dataset.resultId = result.id;
  $("result-file").textContent = result.path;

  const words = verdictWords(result);
  $("verdict").className = `verdict ${words.cls}`;
  $("verdict-title").textContent = words.title;
  $("verdict-detail").textContent = words.detail;

  renderEvidence(result);
  renderCredentials(result);
  renderFaces(result);
  renderTimeline(result);
  renderReview(result);
  renderDetails(result);
  renderReport(result);
  // The window's title names the result: it is the history entry's name and a saved PDF's title.
  document.title = `${words.title}: ${result.path} · ${PAGE_TITLE}`;

  if (!update && result.id) setAddress(result.id, { push: !fromAddress });
  if (focus) $("result-heading").focus();
  if (result.status === "queued" || result.status === "processing") watch(result.id);
}

/** Back to the page without a result (the address names none). */
export function hideResult() {
  view.result = null;
  clearTimeout(view.watch);
  const panel = $("result-panel");
  panel.hidden = true;
  delete panel.dataset.resultId;
  document.title = PAGE_TITLE;
}

/** Keep a result opened from the history up to date while it is still being checked. */
export function watch(id) {
  view.watch = setTimeout(async () => {
    if (!view.result || view.result.id !== id) return;
    try {
      const fresh = await getJson(`v1/results/${encodeURIComponent(id)}`);
      if (view.result && view.result.id === id) showResult(fresh, { focus: false, update: true });
    } catch (error) {
      if (error.code !== "result_not_found") watch(id);
    }
  }, POLL_MAX_MS);
}

export function renderEvidence(result) {
  const figure = $("evidence");
  const controls = $("evidence-controls");
  const image = $("evidence-image");
  const hasEvidence = Boolean(result.evidence && result.evidence.key);
  figure.hidden = !hasEvidence;
  controls.hidden = true;
  clearOverlay();
  if (!hasEvidence) {
    image.removeAttribute("src");
    return;
  }
  const faces = evidenceFaces(result);
  const kind = result.media_kind === "video" ? "frame" : "photo";
  image.alt = faces.length
    ? `The ${kind} with ${faces.length} face${faces.length > 1 ? "s" : ""} marked: ` +
      faces.map((f, i) => `${faceLabel(result, f, i)}: ${percent(f.score)}`).join("; ")
    : `The ${kind} that was checked`;
  let caption = faces.length ? "Each face is boxed and labelled with its probability of manipulation." : "";
  if (faces.length && declared(result)) {
    caption += " The boxes are the model's view of each face; the verdict comes from the file's own metadata.";
  }
  if (result.media_kind === "video" && faces.length) {
    caption = `The most suspicious moment, at ${formatSeconds(faces[0].timestamp_s)}. ` + caption;
  }
  $("evidence-caption").textContent = caption;
  const toggle = $("heatmap-toggle");
  const hasHeatmap = faces.some((f) => f.heatmap && f.crop_to_image);
  controls.hidden = !hasHeatmap;
  toggle.checked = view.heatmap && hasHeatmap;
  const src = apiUrl(`v1/results/${encodeURIComponent(result.id)}/evidence.jpg`);
  if (image.getAttribute("src") !== src) image.src = src;
  else if (image.complete) drawOverlay();
}

export function clearOverlay() {
  const canvas = $("evidence-overlay");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

export function drawOverlay() {
  const result = view.result;
  const image = $("evidence-image");
  const canvas = $("evidence-overlay");
  if (!result || !image.naturalWidth || !image.clientWidth) return;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(image.clientWidth * dpr);
  canvas.height = Math.round(image.clientHeight * dpr);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // Boxes are in original pixels; the evidence JPEG may be downscaled by `evidence.scale`.
  const evidenceScale = (result.evidence && result.evidence.scale) || 1;
  const originalWidth = result.width || image.naturalWidth / evidenceScale;
  const s = canvas.width / originalWidth;
  const faces = evidenceFaces(result);
  if ($("heatmap-toggle").checked) {
    for (const face of faces) drawHeatmap(ctx, face, s);
  }
  faces.forEach((face, i) => drawBox(ctx, face, faceLabel(result, face, i), result, s, dpr));
}

export function drawBox(ctx, face, label, result, s, dpr) {
  const colour = face.verdict === "fake" ? BOX_FAKE : BOX_REAL;
  const [x, y, w, h] = face.box.map((v) => v * s);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.lineWidth = 4 * dpr;
  ctx.strokeStyle = "rgba(0, 0, 0, 0.55)"; // dark halo keeps the box visible on light images
  ctx.strokeRect(x, y, w, h);
  ctx.lineWidth = 2.5 * dpr;
  ctx.strokeStyle = colour;
  ctx.strokeRect(x, y, w, h);

  const text = `${label}: ${percent(face.score)}`;
  ctx.font = `600 ${Math.round(13 * dpr)}px system-ui, sans-serif`;
  const pad = 4 * dpr;
  const height = Math.round(18 * dpr);
  const width = ctx.measureText(text).width + 2 * pad;
  const lx = Math.max(0, Math.min(x, ctx.canvas.width - width));
  const ly = y - height >= 0 ? y - height : Math.min(y + h, ctx.canvas.height - height);
  ctx.fillStyle = colour;
  ctx.fillRect(lx, ly, width, height);
  ctx.fillStyle = "#ffffff";
  ctx.textBaseline = "middle";
  ctx.fillText(text, lx + pad, ly + height / 2);
}

/** Paint the class-activation grid over the aligned crop, placed on the image by crop_to_image. */
export function drawHeatmap(ctx, face, s) {
  const grid = face.heatmap;
  const m = face.crop_to_image;
  if (!grid || !grid.length || !m) return;
  const rows = grid.length;
  const cols = grid[0].length;
  const tile = document.createElement("canvas");
  tile.width = cols;
  tile.height = rows;
  const tctx = tile.getContext("2d");
  const pixels = tctx.createImageData(cols, rows);
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < cols; c += 1) {
      const v = Math.max(0, Math.min(1, grid[r][c]));
      const [red, green, blue] = heatColour(v);
      const k = (r * cols + c) * 4;
      pixels.data[k] = red;
      pixels.data[k + 1] = green;
      pixels.data[k + 2] = blue;
      pixels.data[k + 3] = Math.round(255 * 0.65 * Math.pow(v, 0.8)); // cold areas stay clear
    }
  }
  tctx.putImageData(pixels, 0, 0);
  // The grid covers the whole aligned crop, which is input_size pixels square.
  const cropSize = service.inputSize || cols;
  // Canvas order (a, b, c, d, e, f) maps (x, y) to (a x + c y + e, b x + d y + f).
  ctx.save();
  ctx.setTransform(s * m[0][0], s * m[1][0], s * m[0][1], s * m[1][1], s * m[0][2], s * m[1][2]);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(tile, 0, 0, cropSize, cropSize);
  ctx.restore();
}

// Blue -> cyan -> green -> yellow -> red.
export const HEAT_STOPS = [[0, [40, 60, 220]], [0.35, [0, 200, 230]], [0.55, [40, 200, 60]],
  [0.75, [250, 220, 0]], [1, [230, 30, 20]]];
export function heatColour(v) {
  for (let i = 1; i < HEAT_STOPS.length; i += 1) {
    const [t1, c1] = HEAT_STOPS[i];
    if (v <= t1) {
      const [t0, c0] = HEAT_STOPS[i - 1];
      const f = (v - t0) / (t1 - t0);
      return c0.map((x, j) => Math.round(x + f * (c1[j] - x)));
    }
  }
  return HEAT_STOPS[HEAT_STOPS.length - 1][1];
}

export function scoreSpan(score, verdict) {
  const fake = verdict === "fake";
  return el("span", { class: fake ? "score-fake" : "score-real",
    text: `${percent(score)} ${fake ? "(likely manipulated)" : "(looks authentic)"}` });
}

export function renderFaces(result) {
  const list = $("faces");
  list.replaceChildren();
  if (result.media_kind === "video") {
    for (const track of result.tracks || []) {
      list.append(el("li", null, `Person ${track.track + 1}: `, scoreSpan(track.score, track.verdict),
        `, seen in ${track.frames} sampled frame${track.frames === 1 ? "" : "s"} ` +
        `(${formatSeconds(track.first_timestamp_s)} to ${formatSeconds(track.last_timestamp_s)})`));
    }
  } else {
    evidenceFaces(result).forEach((face, i) => {
      list.append(el("li", null, `Face ${i + 1}: `, scoreSpan(face.score, face.verdict)));
    });
  }
  const none = !list.children.length;
  $("faces-heading").hidden = none;
  list.hidden = none;
}

export function renderDetails(result) {
  const rows = [
    ["Result id", result.id],
    ["Checked", formatDate(result.created_at)],
    ["Kind", result.media_kind],
    ["Size", result.width && result.height ? `${result.width} × ${result.height} pixels` : null],
    ["Duration", typeof result.duration_s === "number" ? formatSeconds(result.duration_s) : null],
    ["Frames sampled", result.frames_sampled],
    ["File SHA-256", fileHash(result) ? el("code", { class: "hash", text: fileHash(result) }) : null],
    ["Model", result.model ? `${result.model.name} ${result.model.version}` : null],
    ["Model's own verdict", result.verdict_reason && result.classifier_verdict
      ? result.classifier_verdict.replace("_", " ") : null],
    ["Time taken", result.timings_ms && result.timings_ms.total
      ? `${Math.round(result.timings_ms.total)} ms` : null],
  ];
  fillPairs($("result-details"), rows);
  const link = el("a", { href: apiUrl(`v1/results/${encodeURIComponent(result.id)}`), text: "JSON" });
  $("result-details").append(el("dt", { text: "Raw result" }), el("dd", null, link));
}

/** Name and value rows; a value is text, or a node (a list, a table) put in as it is. */
export function fillPairs(dl, rows) {
  dl.replaceChildren();
  for (const [key, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    const dd = value instanceof Node ? el("dd", null, value) : el("dd", { text: String(value) });
    dl.append(el("dt", { text: key }), dd);
  }
}
