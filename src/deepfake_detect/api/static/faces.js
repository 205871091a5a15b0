// The faces, side by side: one card per face of a photo, or per face track of a video, with the
// aligned crop the model scored, the same crop under its heat map, the score in words and, for a
// video, the score over time. Without a stored crop (older results, a picture that fails to load)
// a card is the text alone.
import { $, apiUrl, el, formatSeconds, percent, svg } from "./client.js";
import { drawCropHeatmap, hasHeatmap } from "./heatmap.js";
import { PICK_FRAME, TRACK_COLOURS } from "./words.js";

export function faceLabel(result, face, index) {
  return result.media_kind === "video" ? `Person ${face.track + 1}` : `Face ${index + 1}`;
}

/** Faces drawn on the evidence image: those of the evidence frame (every face, for a photo). */
export function evidenceFaces(result) {
  if (result.evidence_frame_index === null || result.evidence_frame_index === undefined) return [];
  return facesOfFrame(result, result.evidence_frame_index);
}

export function facesOfFrame(result, frameIndex) {
  return (result.faces || []).filter((f) => f.frame_index === frameIndex);
}

export function scoreSpan(score, verdict) {
  const fake = verdict === "fake";
  return el("span", { class: fake ? "score-fake" : "score-real",
    text: `${percent(score)} ${fake ? "(likely manipulated)" : "(looks authentic)"}` });
}

/** Ask the evidence stage to show a frame (evidence.js listens). */
export function showFrame(frameIndex, reveal) {
  document.dispatchEvent(new CustomEvent(PICK_FRAME, { detail: { frameIndex, reveal } }));
}

/** One entry per card: per face track for a video, per face for a photo (each its own track). */
function entries(result) {
  const tracks = result.tracks || [];
  const faces = result.faces || [];
  if (result.media_kind === "video") {
    return tracks.map((t) => ({
      label: `Person ${t.track + 1}`, track: t.track, score: t.score, verdict: t.verdict,
      face: Number.isInteger(t.face) ? faces[t.face] || null : null, crop: Boolean(t.crop), info: t,
    }));
  }
  return evidenceFaces(result).map((face, i) => {
    const t = tracks.find((x) => x.track === face.track);
    return { label: `Face ${i + 1}`, track: face.track, score: face.score, verdict: face.verdict, face,
      crop: Boolean(t && t.crop), info: null };
  });
}

export function renderFaces(result) {
  const list = $("faces");
  list.replaceChildren(...entries(result).map((entry) => faceCard(result, entry)));
  const none = !list.children.length;
  $("faces-heading").hidden = none;
  list.hidden = none;
}

function faceCard(result, entry) {
  const video = result.media_kind === "video";
  const card = el("li", { class: `face-card ${entry.verdict === "fake" ? "fake" : "real"}`,
    "data-track": entry.track });
  const name = el("h4", { class: "face-name" },
    video ? el("span", { class: `swatch track-${entry.track % TRACK_COLOURS}`, "aria-hidden": "true" }) : null,
    entry.label);
  const text = el("div", { class: "face-text" }, name, el("p", { class: "face-score" }, scoreSpan(entry.score, entry.verdict)));
  if (entry.info) {
    const t = entry.info;
    text.append(el("p", { class: "face-meta", text: `Seen in ${t.frames} sampled frame${t.frames === 1 ? "" : "s"}, ` +
      `${formatSeconds(t.first_timestamp_s)} to ${formatSeconds(t.last_timestamp_s)}` }));
  }
  const pictures = entry.crop ? facePictures(result, entry, card) : null;
  card.append(el("div", { class: "face-top" }, pictures, text));
  if (video) {
    const spark = sparkline(result, entry);
    if (spark) card.append(spark);
    const frameIndex = worstFrame(result, entry);
    if (frameIndex !== null) {
      const frame = (result.frames || []).find((f) => f.frame_index === frameIndex);
      const button = el("button", { type: "button", class: "button small face-jump" },
        `Show frame at ${formatSeconds(frame ? frame.timestamp_s : 0)}`,
        el("span", { class: "visually-hidden", text: ` (${entry.label}'s most suspicious)` }));
      button.addEventListener("click", () => showFrame(frameIndex, true));
      card.append(button);
    }
  }
  return card;
}

/** The aligned crop, and the same crop under its heat map (drawn once the crop has loaded). */
function facePictures(result, entry, card) {
  const src = apiUrl(`v1/results/${encodeURIComponent(result.id)}/faces/${entry.track}.jpg`);
  const crop = el("img", { class: "face-crop", src, alt: `${entry.label}, aligned and cropped as the model saw it` });
  const pictures = el("div", { class: "face-pictures" },
    el("figure", { class: "face-picture" }, crop, el("figcaption", { text: "Face" })));
  let heat = null;
  if (hasHeatmap(entry.face)) {
    heat = el("canvas", { class: "face-heat", role: "img",
      "aria-label": `${entry.label} under the heat map: warm colours mark what pushed the score up` });
    pictures.append(el("figure", { class: "face-picture" }, heat, el("figcaption", { text: "Heat map" })));
  }
  const draw = () => {
    if (!heat || !crop.naturalWidth) return;
    drawCropHeatmap(heat, crop, entry.face);
    heat.dataset.drawn = "true";
  };
  crop.addEventListener("load", draw);
  crop.addEventListener("error", () => {
    pictures.remove(); // the card keeps its words
    card.classList.add("no-crop");
  });
  if (crop.complete) draw();
  return pictures;
}

/** The frame where the track looked most suspicious: its chosen face's, else its highest score's. */
function worstFrame(result, entry) {
  if (entry.face && Number.isInteger(entry.face.frame_index)) return entry.face.frame_index;
  const key = String(entry.track);
  let best = null;
  for (const f of result.frames || []) {
    const score = f.scores ? f.scores[key] : undefined;
    if (typeof score === "number" && (best === null || score > best.score)) best = { score, index: f.frame_index };
  }
  return best ? best.index : null;
}

// The track's score over the sampled frames, with the threshold; a click picks the nearest frame.
const SPARK_W = 240;
const SPARK_H = 44;
const SPARK_PAD = 3;

function sparkline(result, entry) {
  const key = String(entry.track);
  const frames = (result.frames || []).filter((f) => f.scores && typeof f.scores[key] === "number")
    .sort((a, b) => a.timestamp_s - b.timestamp_s);
  if (!frames.length) return null;
  const all = result.frames || [];
  const duration = Math.max(result.duration_s || 0, ...all.map((f) => f.timestamp_s), 0.001);
  const x = (t) => SPARK_PAD + (t / duration) * (SPARK_W - 2 * SPARK_PAD);
  const y = (p) => SPARK_PAD + (1 - p) * (SPARK_H - 2 * SPARK_PAD);
  const scores = frames.map((f) => f.scores[key]);
  const high = Math.max(...scores);
  const low = Math.min(...scores);
  const peak = frames[scores.indexOf(high)];
  const threshold = result.threshold;
  const above = typeof threshold === "number" ? scores.filter((s) => s >= threshold).length : null;
  const words = `${entry.label}'s probability of manipulation over time: ${percent(low)} to ${percent(high)} ` +
    `in ${frames.length} sampled frame${frames.length === 1 ? "" : "s"}, highest at ${formatSeconds(peak.timestamp_s)}` +
    (above === null ? "." : `; at or above the ${percent(threshold)} threshold in ${above}.`);
  const chart = svg("svg", { class: `sparkline track-line-${entry.track % TRACK_COLOURS}`,
    viewBox: `0 0 ${SPARK_W} ${SPARK_H}`, preserveAspectRatio: "none", role: "img", "aria-label": words });
  chart.append(svg("rect", { class: "spark-frame", x: 0.5, y: 0.5, width: SPARK_W - 1, height: SPARK_H - 1 }));
  if (typeof threshold === "number") {
    chart.append(svg("line", { class: "spark-threshold", x1: SPARK_PAD, x2: SPARK_W - SPARK_PAD,
      y1: y(threshold), y2: y(threshold) }));
  }
  const points = frames.map((f) => `${x(f.timestamp_s).toFixed(1)},${y(f.scores[key]).toFixed(1)}`);
  if (points.length === 1) points.push(points[0]);
  chart.append(svg("polyline", { class: `track-${entry.track % TRACK_COLOURS}`, points: points.join(" ") }));
  chart.addEventListener("click", (event) => {
    const box = chart.getBoundingClientRect();
    if (!box.width) return;
    const t = (((event.clientX - box.left) / box.width) * SPARK_W - SPARK_PAD) / (SPARK_W - 2 * SPARK_PAD) * duration;
    const nearest = frames.reduce((a, b) => (Math.abs(b.timestamp_s - t) < Math.abs(a.timestamp_s - t) ? b : a));
    showFrame(nearest.frame_index, true);
  });
  return el("div", { class: "face-spark" }, chart,
    el("p", { class: "face-spark-note", "aria-hidden": "true", text: "Score over time; dashed: threshold" }));
}
