// The result view: the evidence stage (the photo, the video's most suspicious frame or any other
// sampled frame, with boxes and heat maps), the frame picker, the faces, the technical details.
import { setAddress } from "./address.js";
import { placeLabels } from "./box-labels.js";
import { BANDS, BOX_COLOURS, bandOf, scorePercent } from "./bands.js";
import { $, apiUrl, el, formatDate, formatSeconds, getJson } from "./client.js";
import { evidenceFaces, faceLabel, facesOfFrame, renderFaces, trackLabel } from "./faces.js";
import { drawHeatmap, hasHeatmap } from "./heatmap.js";
import { fillPairs } from "./pairs.js";
import { renderCredentials } from "./provenance.js";
import { fileHash, renderReport } from "./report.js";
import { renderReview } from "./review.js";
import { renderSameFile } from "./same-file.js";
import { announce } from "./service.js";
import { markTimelineFrame, renderTimeline } from "./timeline.js";
import { declared, verdictWords } from "./verdicts.js";
import { PICK_FRAME, POLL_MAX_MS } from "./words.js";

export { evidenceFaces, faceLabel, fillPairs };

// ---------------------------------------------------------------- the result view
// autoShow: the next finished upload replaces the result on screen (until the person picks one).
// frame: the sampled frame on the evidence stage (its frame_index); null: the most suspicious one,
// shown from the full-size evidence image.
export const view = { result: null, autoShow: false, heatmap: false, watch: 0, frame: null };

export const PAGE_TITLE = "Deepfake check";

/** Show a result. The address names it: a new history entry for a result the person opened (so
 * back returns to what was on screen), none for an update of the same result or a result opened
 * from the address itself (`fromAddress`: a link, back or forward). */
export function showResult(result, { focus, update = false, fromAddress = false }) {
  const same = view.result && view.result.id === result.id;
  view.result = result;
  if (!update) view.autoShow = false;
  if (!update || !same) view.frame = null;
  clearTimeout(view.watch);
  const panel = $("result-panel");
  panel.hidden = false;
  panel.dataset.resultId = result.id;
  $("result-file").textContent = result.path;

  const words = renderVerdict(result);
  renderEvidence(result);
  renderCredentials(result);
  renderFaces(result);
  renderTimeline(result, shownFrameIndex(result));
  renderReview(result);
  renderSameFile(result);
  renderDetails(result);
  renderReport(result);
  // The window's title names the result: it is the history entry's name and a saved PDF's title.
  document.title = `${words.title}${words.score ? ` (${words.score.toLowerCase()})` : ""}: ` +
    `${result.path} · ${PAGE_TITLE}`;

  if (!update && result.id) setAddress(result.id, { push: !fromAddress });
  if (focus) $("result-heading").focus();
  if (result.status === "queued" || result.status === "processing") watch(result.id);
}

/** The verdict box: the band's name, the score called what it is, what the band means and (next to
 * "no sign") what the model misses. Drawn again when the model card arrives. */
export function renderVerdict(result) {
  const words = verdictWords(result);
  $("verdict").className = `verdict ${words.cls}`;
  $("verdict").dataset.verdict = result.verdict || "";
  $("verdict-title").textContent = words.title;
  $("verdict-score").textContent = words.score;
  $("verdict-detail").textContent = words.detail;
  $("verdict-caveat").textContent = words.caveat;
  return words;
}

/** Back to the page without a result (the address names none). */
export function hideResult() {
  view.result = null;
  view.frame = null;
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

// ---------------------------------------------------------------- which picture is on the stage
/** A video's sampled frames (in time order), the ones a person can pick; none for a photo. */
export function sampledFrames(result) {
  if (result.media_kind !== "video") return [];
  return (result.frames || []).slice().sort((a, b) => a.timestamp_s - b.timestamp_s);
}

/** The frame_index of the frame on the stage (the evidence frame unless another was picked). */
export function shownFrameIndex(result) {
  return view.frame === null ? result.evidence_frame_index : view.frame;
}

/** What the evidence stage shows: the picture's address and scale (its pixels per original pixel),
 * the faces drawn on it, and for a video the frame and its place among the sampled frames. */
export function stagePicture(result) {
  const frames = sampledFrames(result);
  const hasEvidence = Boolean(result.evidence && result.evidence.key);
  const id = encodeURIComponent(result.id);
  const chosen = view.frame === null ? null : frames.find((f) => f.frame_index === view.frame);
  if (!chosen) {
    const position = frames.findIndex((f) => f.frame_index === result.evidence_frame_index);
    return {
      kind: "evidence",
      frameIndex: result.evidence_frame_index,
      frame: position >= 0 ? frames[position] : null,
      position,
      total: frames.length,
      src: hasEvidence ? apiUrl(`v1/results/${id}/evidence.jpg`) : null,
      scale: (hasEvidence && result.evidence.scale) || 1,
      faces: evidenceFaces(result),
    };
  }
  const thumbnail = chosen.thumbnail && chosen.thumbnail.key ? chosen.thumbnail : null;
  return {
    kind: "frame",
    frameIndex: chosen.frame_index,
    frame: chosen,
    position: frames.indexOf(chosen),
    total: frames.length,
    src: thumbnail ? apiUrl(`v1/results/${id}/frames/${chosen.frame_index}.jpg`) : null,
    scale: (thumbnail && thumbnail.scale) || 1,
    faces: facesOfFrame(result, chosen.frame_index),
  };
}

/** "3.2 s (12 of 32)": a sampled frame's time and place. */
export function frameWords(picture) {
  if (!picture.frame) return "";
  return `${formatSeconds(picture.frame.timestamp_s)} (${picture.position + 1} of ${picture.total})`;
}

/** Each face's label and score on a frame: "Person 1: score 87%; Person 2: score 12%" (from the
 * frame's own scores where its faces are not listed). */
function frameScores(result, picture) {
  const parts = picture.faces.length
    ? picture.faces.map((f) => [faceLabel(result, f), f.score])
    : Object.entries((picture.frame && picture.frame.scores) || {})
      .map(([track, score]) => [trackLabel(result, track), score])
      .sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }));
  return parts.map(([label, score]) => `${label}: score ${scorePercent(score, result)}`).join("; ");
}

// ---------------------------------------------------------------- the evidence stage
export function renderEvidence(result) {
  const figure = $("evidence");
  const stage = $("evidence-stage");
  const image = $("evidence-image");
  const missing = $("frame-missing");
  const picture = stagePicture(result);
  const frames = sampledFrames(result);
  figure.hidden = !picture.src && picture.kind !== "frame";
  delete stage.dataset.drawn;
  stage.dataset.picture = picture.kind;
  stage.dataset.frameIndex = picture.frameIndex ?? "";
  stage.dataset.boxes = "0";
  clearOverlay();
  sizeStage(result);
  renderFramePicker(result, picture, frames);
  // The toggle stays put while the person moves along the frames: it is there when any face has a map.
  const heatmaps = (result.faces || []).some((f) => hasHeatmap(f) && f.crop_to_image);
  $("evidence-controls").hidden = figure.hidden || !heatmaps;
  $("heatmap-toggle").checked = view.heatmap && heatmaps;
  $("heatmap-help").hidden = !$("heatmap-toggle").checked; // the colour scale, while the map is shown

  const faces = picture.faces;
  const video = result.media_kind === "video";
  let caption;
  if (picture.kind === "frame") {
    const scores = frameScores(result, picture);
    caption = `Frame at ${frameWords(picture)}: ${scores || "no face found in this frame"}.`;
  } else {
    caption = faces.length ? "Faces numbered left to right, with their manipulation scores. Boxes: red " +
      "likely manipulated, amber inconclusive, green no sign of manipulation." : "";
    if (faces.length && declared(result)) {
      caption += " The boxes are the model's view of each face; the verdict comes from the file's own metadata.";
    }
    if (video && faces.length) {
      const where = picture.frame ? frameWords(picture) : formatSeconds(faces[0].timestamp_s);
      caption = `The most suspicious moment, at ${where}: ${frameScores(result, picture)}. ${caption}`;
    }
  }
  $("evidence-caption").textContent = caption;

  if (!picture.src) {
    stage.hidden = true;
    missing.hidden = picture.kind !== "frame";
    $("evidence-zoom").hidden = true; // nothing to zoom
    image.removeAttribute("src");
    return;
  }
  stage.hidden = false;
  missing.hidden = true;
  $("evidence-zoom").hidden = false;
  const kind = video ? "frame" : "photo";
  const at = picture.frame ? ` at ${formatSeconds(picture.frame.timestamp_s)}` : "";
  image.alt = faces.length
    ? `The ${kind}${at} with ${faces.length} face${faces.length > 1 ? "s" : ""} marked: ` +
      faces.map((f) => {
        const band = BANDS[bandOf(f, result)];
        return `${faceLabel(result, f)}: score ${scorePercent(f.score, result)}${band ? `, ${band.short}` : ""}`;
      }).join("; ")
    : `The ${kind}${at} that was checked`;
  if (image.getAttribute("src") !== picture.src) image.src = picture.src;
  else if (image.complete) drawOverlay();
}

/** The stage keeps the original picture's proportions and size whichever picture it shows (a
 * 480 px thumbnail is drawn as large as the full-size evidence frame), so moving along the frames
 * does not make the page jump. */
function sizeStage(result) {
  const stage = $("evidence-stage");
  const sized = result.width > 0 && result.height > 0;
  stage.classList.toggle("sized", sized);
  if (sized) {
    stage.style.setProperty("--stage-width", `${result.width}px`);
    stage.style.setProperty("--stage-aspect", String(result.width / result.height));
  }
}

/** The picture on the stage could not be loaded: a frame's thumbnail says so, the evidence image
 * leaves the stage (as a result without one). */
export function pictureFailed() {
  const result = view.result;
  if (!result) return;
  const picture = stagePicture(result);
  $("evidence-stage").hidden = true;
  $("evidence-zoom").hidden = true;
  if (picture.kind === "frame") {
    $("frame-missing").hidden = false;
  } else {
    $("evidence").hidden = true;
    $("evidence-controls").hidden = true;
  }
}

export function clearOverlay() {
  const canvas = $("evidence-overlay");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

export function drawOverlay() {
  const result = view.result;
  const stage = $("evidence-stage");
  if (!result) return;
  const picture = stagePicture(result);
  if (!paintOverlay($("evidence-image"), $("evidence-overlay"), result, picture)) return;
  stage.dataset.boxes = String(picture.faces.length);
  stage.dataset.drawn = String(picture.frameIndex ?? "");
}

/** Boxes, labels and (when the toggle is on) heat maps of `picture` on `canvas`, at the size
 * `image` is displayed: the page's stage and the zoomed picture (zoom.js) draw the same way, so
 * boxes and labels sit on their faces at any size. False when the image is not ready for it. */
export function paintOverlay(image, canvas, result, picture) {
  if (!image.naturalWidth || !image.clientWidth) return false;
  // Only over the picture it belongs to: a newly picked frame is drawn once its image has loaded.
  if (!picture.src || image.getAttribute("src") !== picture.src || !image.complete) return false;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(image.clientWidth * dpr);
  canvas.height = Math.round(image.clientHeight * dpr);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // Boxes are in original pixels; the picture may be downscaled by its `scale`.
  const originalWidth = result.width || image.naturalWidth / picture.scale;
  const s = canvas.width / originalWidth;
  const faces = picture.faces;
  if ($("heatmap-toggle").checked) {
    for (const face of faces) drawHeatmap(ctx, face, s);
  }
  faces.forEach((face) => drawBox(ctx, face, s, dpr, result));
  drawLabels(ctx, faces.map((face) => ({ face, label: faceLabel(result, face) })), s, dpr, result);
  return true;
}

/** A face's colours on the picture: its band's (a face without a score is drawn as "no sign"). */
const colours = (face, result) => BOX_COLOURS[bandOf(face, result)] || BOX_COLOURS.real;

export function drawBox(ctx, face, s, dpr, result) {
  const colour = colours(face, result).box;
  const [x, y, w, h] = face.box.map((v) => v * s);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.lineWidth = 4 * dpr;
  ctx.strokeStyle = "rgba(0, 0, 0, 0.55)"; // dark halo keeps the box visible on light images
  ctx.strokeRect(x, y, w, h);
  ctx.lineWidth = 2.5 * dpr;
  ctx.strokeStyle = colour;
  ctx.strokeRect(x, y, w, h);
}

/** Each box's label and score, after every box is drawn, placed so that labels cover neither each
 * other nor other faces where there is room ("Face 2: 34%", or "2: 34%" where faces are crowded). */
export function drawLabels(ctx, labelled, s, dpr, result) {
  const { places, texts, height, pad } = labelPlaces(ctx, labelled, s, dpr, result);
  labelled.forEach(({ face }, i) => {
    const spot = places[i];
    ctx.fillStyle = colours(face, result).box;
    ctx.fillRect(spot.x, spot.y, spot.width, height);
    ctx.fillStyle = colours(face, result).text;
    ctx.textBaseline = "middle";
    ctx.fillText(spot.short ? texts[i].short : texts[i].full, spot.x + pad, spot.y + height / 2);
  });
}

/** Where drawLabels puts each label, in canvas pixels (the browser tests check them too). */
export function labelPlaces(ctx, labelled, s, dpr, result) {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.font = `600 ${Math.round(13 * dpr)}px system-ui, sans-serif`;
  const pad = 4 * dpr;
  const height = Math.round(18 * dpr);
  const texts = labelled.map(({ face, label }) => ({
    full: `${label}: ${scorePercent(face.score, result)}`,
    short: `${label.split(" ").pop()}: ${scorePercent(face.score, result)}`,
  }));
  const places = placeLabels(labelled.map(({ face }, i) => ({
    box: face.box.map((v) => v * s),
    full: ctx.measureText(texts[i].full).width + 2 * pad,
    short: ctx.measureText(texts[i].short).width + 2 * pad,
  })), ctx.canvas.width, ctx.canvas.height, height);
  return { places, texts, height, pad };
}

// ---------------------------------------------------------------- the frame picker
function renderFramePicker(result, picture, frames) {
  const picker = $("frame-picker");
  const show = frames.length > 1 && (result.tracks || []).length > 0 && !$("evidence").hidden;
  picker.hidden = !show;
  if (!show) return;
  const range = $("frame-range");
  const position = Math.max(0, picture.position);
  range.max = String(frames.length - 1);
  range.value = String(position);
  const words = picture.frame ? frameWords(picture) : "";
  range.setAttribute("aria-valuetext", words
    ? `${words}${picture.kind === "evidence" ? ", the most suspicious frame" : ""}` : "");
  $("frame-position").textContent = words
    ? `${words}${picture.kind === "evidence" ? " · most suspicious" : ""}` : "";
  $("frame-prev").disabled = position <= 0;
  $("frame-next").disabled = position >= frames.length - 1;
  $("frame-best").disabled = picture.kind === "evidence";
}

/** Put a sampled frame on the stage (the evidence frame goes back to the full-size evidence image). */
export function pickFrame(frameIndex, { reveal = false } = {}) {
  const result = view.result;
  if (!result) return;
  const frames = sampledFrames(result);
  if (!frames.some((f) => f.frame_index === frameIndex)) return;
  const next = frameIndex === result.evidence_frame_index ? null : frameIndex;
  if (next === view.frame) return;
  view.frame = next;
  renderEvidence(result);
  markTimelineFrame(result, shownFrameIndex(result));
  if (reveal) $("evidence").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function step(by) {
  const result = view.result;
  if (!result) return;
  const frames = sampledFrames(result);
  const now = Math.max(0, frames.findIndex((f) => f.frame_index === shownFrameIndex(result)));
  const target = frames[Math.max(0, Math.min(frames.length - 1, now + by))];
  if (target) pickFrame(target.frame_index);
}

export function wireFramePicker() {
  const range = $("frame-range");
  range.addEventListener("input", () => {
    const frame = view.result && sampledFrames(view.result)[Number(range.value)];
    if (frame) pickFrame(frame.frame_index);
  });
  $("frame-prev").addEventListener("click", () => step(-1));
  $("frame-next").addEventListener("click", () => step(1));
  $("frame-best").addEventListener("click", () => {
    if (!view.result) return;
    pickFrame(view.result.evidence_frame_index);
    announce("Showing the most suspicious frame.");
  });
  // The timeline and the face cards ask for a frame with this event (detail: frameIndex, reveal).
  document.addEventListener(PICK_FRAME, (event) => {
    pickFrame(event.detail.frameIndex, { reveal: Boolean(event.detail.reveal) });
  });
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
