// The faces, side by side: one card per face of a photo, or per face track of a video, with the
// aligned crop the model scored, the same crop under its heat map, the score in words and, for a
// video, the score over time. Without a stored crop (older results, a picture that fails to load)
// a card is the text alone.
import { BANDS, bandClass, bandOf, scorePercent, scoreTexts } from "./bands.js";
import { $, apiUrl, el, formatSeconds, svg } from "./client.js";
import { drawCropHeatmap, hasHeatmap } from "./heatmap.js";
import { PICK_FRAME, TRACK_COLOURS } from "./words.js";

const numbered = new WeakMap(); // result -> Map(track -> its number, from 1)

/** Faces are numbered left to right: a photo's by where each sits; a video's people by where
 * each one's face sits in the most suspicious frame (the evidence picture), then those not in it
 * by where their own most suspicious face sits. The evidence picture, the face cards, the
 * timeline and the captions all use these numbers. */
export function faceNumbers(result) {
  let numbers = numbered.get(result);
  if (numbers) return numbers;
  const faces = result.faces || [];
  const x = (face) => (face && face.box ? face.box[0] : Infinity);
  const inEvidence = new Map(evidenceFrameFaces(result).map((f) => [f.track, f]));
  const tracks = new Set([...(result.tracks || []).map((t) => t.track), ...inEvidence.keys()]);
  const place = (track) => {
    if (inEvidence.has(track)) return [0, x(inEvidence.get(track)), track];
    const info = (result.tracks || []).find((t) => t.track === track);
    const own = info && Number.isInteger(info.face) ? faces[info.face] : null;
    return [1, x(own), track];
  };
  const order = [...tracks].map((track) => [track, place(track)]).sort(([, a], [, b]) =>
    a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  numbers = new Map(order.map(([track], i) => [track, i + 1]));
  numbered.set(result, numbers);
  return numbers;
}

/** A track's number (a face's, in a photo). */
export function faceNumber(result, track) {
  return faceNumbers(result).get(track) ?? Number(track) + 1;
}

/** "Face 2" in a photo, "Person 2" in a video (the index is no longer used: numbers go left to right). */
export function faceLabel(result, face) {
  const number = faceNumber(result, face.track);
  return result.media_kind === "video" ? `Person ${number}` : `Face ${number}`;
}

/** A track's label by its id (a frame's scores name tracks only). */
export function trackLabel(result, track) {
  return faceLabel(result, { track: Number(track) });
}

function evidenceFrameFaces(result) {
  if (result.evidence_frame_index === null || result.evidence_frame_index === undefined) return [];
  return (result.faces || []).filter((f) => f.frame_index === result.evidence_frame_index);
}

const byNumber = (result) => (a, b) => faceNumber(result, a.track) - faceNumber(result, b.track);

/** Faces drawn on the evidence image: those of the evidence frame (every face, for a photo), left
 * to right. */
export function evidenceFaces(result) {
  return evidenceFrameFaces(result).sort(byNumber(result));
}

/** A frame's faces, in the order of their numbers. */
export function facesOfFrame(result, frameIndex) {
  return (result.faces || []).filter((f) => f.frame_index === frameIndex).sort(byNumber(result));
}

/** "Score 62%: inconclusive", coloured by the band. */
export function scoreSpan(score, verdict, result) {
  const band = BANDS[verdict];
  return el("span", { class: `score-${bandClass(verdict)}`,
    text: `Score ${scorePercent(score, result)}${band ? `: ${band.short}` : ""}` });
}

/** Ask the evidence stage to show a frame (evidence.js listens). */
export function showFrame(frameIndex, reveal) {
  document.dispatchEvent(new CustomEvent(PICK_FRAME, { detail: { frameIndex, reveal } }));
}

/** One entry per card, numbered left to right: per face track for a video, per face for a photo
 * (each its own track). */
function entries(result) {
  const tracks = result.tracks || [];
  const faces = result.faces || [];
  if (result.media_kind === "video") {
    return tracks.slice().sort(byNumber(result)).map((t) => ({
      label: trackLabel(result, t.track), track: t.track, score: t.score, verdict: bandOf(t, result),
      face: Number.isInteger(t.face) ? faces[t.face] || null : null, crop: Boolean(t.crop), info: t,
    }));
  }
  return evidenceFaces(result).map((face) => {
    const t = tracks.find((x) => x.track === face.track);
    return { label: faceLabel(result, face), track: face.track, score: face.score,
      verdict: bandOf(face, result), face, crop: Boolean(t && t.crop), info: null };
  });
}

export function renderFaces(result) {
  const list = $("faces");
  list.replaceChildren(...entries(result).map((entry) => faceCard(result, entry)));
  const none = !list.children.length;
  $("faces-heading").hidden = none;
  list.hidden = none;
  $("faces-hint").hidden = none;
  $("faces-hint-heat").hidden = !list.querySelector("canvas.face-heat");
}

function faceCard(result, entry) {
  const video = result.media_kind === "video";
  const card = el("li", { class: `face-card ${bandClass(entry.verdict)}`, "data-track": entry.track });
  const name = el("h4", { class: "face-name" },
    video ? el("span", { class: `swatch track-${entry.track % TRACK_COLOURS}`, "aria-hidden": "true" }) : null,
    entry.label);
  const text = el("div", { class: "face-text" }, name, el("p", { class: "face-score" }, scoreSpan(entry.score, entry.verdict, result)));
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
      "aria-label": `${entry.label} under the heat map (scaled to this face alone): warm colours mark ` +
        "what pushed its score up most" });
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

// The track's score over the sampled frames, with the thresholds; a click picks the nearest frame.
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
  const { fake: tFake, real: tReal } = { fake: result.threshold, real: result.threshold_real };
  const isNumber = (v) => typeof v === "number";
  const text = (v) => scoreTexts(v, result).score;
  const likely = isNumber(tFake) ? scores.filter((s) => s >= tFake).length : null;
  const unsure = isNumber(tFake) && isNumber(tReal) ? scores.filter((s) => s >= tReal && s < tFake).length : null;
  const limits = scoreTexts(high, result);
  let bands = ".";
  if (likely !== null) {
    bands = `; likely manipulated (from ${limits.fake}) in ${likely}` +
      (unsure === null ? "." : `, inconclusive (from ${limits.real}) in ${unsure}.`);
  }
  const words = `${entry.label}'s manipulation score over time: ${text(low)} to ${text(high)} ` +
    `in ${frames.length} sampled frame${frames.length === 1 ? "" : "s"}, highest at ` +
    `${formatSeconds(peak.timestamp_s)}${bands}`;
  const chart = svg("svg", { class: `sparkline track-line-${entry.track % TRACK_COLOURS}`,
    viewBox: `0 0 ${SPARK_W} ${SPARK_H}`, preserveAspectRatio: "none", role: "img", "aria-label": words });
  chart.append(svg("rect", { class: "spark-frame", x: 0.5, y: 0.5, width: SPARK_W - 1, height: SPARK_H - 1 }));
  for (const [value, cls] of [[tFake, "spark-threshold"], [tReal, "spark-threshold-real"]]) {
    if (!isNumber(value)) continue;
    chart.append(svg("line", { class: cls, x1: SPARK_PAD, x2: SPARK_W - SPARK_PAD, y1: y(value), y2: y(value) }));
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
    el("p", { class: "face-spark-note", "aria-hidden": "true", text: isNumber(tReal)
      ? "Score over time; dashed: likely manipulated from here, dotted: no sign below here"
      : "Score over time; dashed: likely manipulated from here" }));
}
