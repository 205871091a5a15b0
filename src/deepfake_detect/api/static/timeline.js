// The video timeline: each face track's score over the sampled frames, as inline SVG. A click
// picks the nearest sampled frame for the evidence stage (the frame picker above it is the
// keyboard's way); the frame on the stage is marked.
import { BANDS, bandOf, scorePercent, scoreTexts } from "./bands.js";
import { $, el, formatSeconds, percent, svg } from "./client.js";
import { faceNumber, trackLabel } from "./faces.js";
import { PICK_FRAME, TRACK_COLOURS } from "./words.js";

// The drawn chart's mapping from time to x, for the frame mark and for clicks.
const drawn = { x: null, top: 0, bottom: 0, width: 0, duration: 0, left: 0, right: 0 };

// ---------------------------------------------------------------- the video timeline (inline SVG)
/** Draw the chart; `shown` is the frame_index of the frame on the evidence stage (marked). */
export function renderTimeline(result, shown) {
  const block = $("timeline-block");
  const frames = result.frames || [];
  const tracks = (result.tracks || []).slice().sort((a, b) => faceNumber(result, a.track) - faceNumber(result, b.track));
  const show = result.media_kind === "video" && frames.length > 0 && tracks.length > 0;
  block.hidden = !show;
  const holder = $("timeline");
  holder.replaceChildren();
  $("timeline-legend").replaceChildren();
  $("timeline-table").replaceChildren();
  if (!show) return;

  // Drawn at the holder's own width, so labels keep their size on a phone (redrawn on resize).
  const W = Math.max(280, Math.min(960, Math.round(holder.clientWidth || 640)));
  const H = 220;
  const left = 44;
  const right = 14;
  const top = 10;
  const bottom = 30;
  const lastTime = Math.max(...frames.map((f) => f.timestamp_s));
  const duration = Math.max(result.duration_s || 0, lastTime, 0.001);
  const x = (t) => left + (t / duration) * (W - left - right);
  const y = (p) => top + (1 - p) * (H - top - bottom);
  // The thresholds are drawn as lines; verdicts come from the server.
  const thresholds = [[result.threshold, "threshold"], [result.threshold_real, "threshold-real"]]
    .filter(([value]) => typeof value === "number");

  const worst = tracks.reduce((a, b) => (b.score > a.score ? b : a));
  const title = svg("title", { id: "timeline-title", text: "Manipulation score over time" });
  const desc = svg("desc", { id: "timeline-desc",
    text: `${tracks.length} face track${tracks.length > 1 ? "s" : ""} over ${formatSeconds(duration)}. ` +
      `Highest track score ${scorePercent(worst.score, result)} (${trackLabel(result, worst.track)}). ` +
      "The same numbers are in the table below the chart." });
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
    "aria-labelledby": "timeline-title timeline-desc", preserveAspectRatio: "xMidYMid meet" }, title, desc);

  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    chart.append(svg("line", { class: "grid", x1: left, x2: W - right, y1: y(p), y2: y(p) }));
    chart.append(svg("text", { x: left - 6, y: y(p) + 4, "text-anchor": "end", text: percent(p) }));
  }
  for (const t of niceTicks(duration, Math.max(2, Math.floor((W - left - right) / 70)))) {
    chart.append(svg("line", { class: "axis", x1: x(t), x2: x(t), y1: H - bottom, y2: H - bottom + 4 }));
    chart.append(svg("text", { x: x(t), y: H - bottom + 18, "text-anchor": "middle", text: `${t} s` }));
  }
  chart.append(svg("line", { class: "axis", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
  for (const [value, cls] of thresholds) {
    chart.append(svg("line", { class: cls, x1: left, x2: W - right, y1: y(value), y2: y(value) }));
  }

  const evidence = frames.find((f) => f.frame_index === result.evidence_frame_index);
  if (evidence) {
    chart.append(svg("line", { class: "evidence-mark", x1: x(evidence.timestamp_s),
      x2: x(evidence.timestamp_s), y1: top, y2: H - bottom }));
  }
  // The frame on the stage: a band under the lines, moved by markTimelineFrame.
  chart.append(svg("rect", { class: "frame-mark", id: "timeline-frame-mark", x: 0, y: top, width: 8,
    height: H - top - bottom, rx: 2, visibility: "hidden" }));

  for (const track of tracks) {
    const key = String(track.track);
    const colour = `track-${track.track % TRACK_COLOURS}`;
    const points = frames.filter((f) => f.scores && key in f.scores)
      .map((f) => [f.timestamp_s, f.scores[key], f.frame_index]);
    const group = svg("g", { class: colour, "data-track": key });
    group.append(svg("polyline", {
      class: colour, points: points.map(([t, p]) => `${x(t).toFixed(1)},${y(p).toFixed(1)}`).join(" "),
    }));
    for (const [t, p, index] of points) {
      const dot = svg("circle", { cx: x(t).toFixed(1), cy: y(p).toFixed(1), r: 2.5, class: colour,
        "data-frame-index": index });
      dot.append(svg("title", { text: `${trackLabel(result, track.track)} at ${formatSeconds(t)}: ` +
        `score ${scorePercent(p, result)}` }));
      group.append(dot);
    }
    chart.append(group);
    const band = BANDS[bandOf(track, result)];
    $("timeline-legend").append(el("li", null, el("span", { class: `swatch ${colour}`, "aria-hidden": "true" }),
      `${trackLabel(result, track.track)}: score ${scorePercent(track.score, result)}` +
      (band ? `, ${band.short}` : "")));
  }
  holder.append(chart);
  Object.assign(drawn, { x, top, bottom: H - bottom, width: W, duration, left, right: W - right });
  chart.addEventListener("click", (event) => pickNear(chart, frames, event));
  renderTimelineTable(result, frames, tracks);
  renderTimelineNote(result);
  markTimelineFrame(result, shown);
}

/** The sampled frame nearest in time to a click on the chart goes on the evidence stage. */
function pickNear(chart, frames, event) {
  const box = chart.getBoundingClientRect();
  if (!box.width || !frames.length) return;
  const px = ((event.clientX - box.left) / box.width) * drawn.width;
  const t = ((px - drawn.left) / (drawn.right - drawn.left)) * drawn.duration;
  const nearest = frames.reduce((a, b) => (Math.abs(b.timestamp_s - t) < Math.abs(a.timestamp_s - t) ? b : a));
  document.dispatchEvent(new CustomEvent(PICK_FRAME, { detail: { frameIndex: nearest.frame_index } }));
}

/** Mark the frame on the evidence stage (its band, its points, its row of the table). */
export function markTimelineFrame(result, shown) {
  const mark = document.getElementById("timeline-frame-mark");
  if (!mark || !drawn.x) return;
  const frame = (result.frames || []).find((f) => f.frame_index === shown);
  mark.setAttribute("visibility", frame ? "visible" : "hidden");
  if (frame) mark.setAttribute("x", (drawn.x(frame.timestamp_s) - 4).toFixed(1));
  $("timeline").dataset.shownFrame = frame ? String(shown) : "";
  for (const dot of $("timeline").querySelectorAll("circle")) {
    dot.classList.toggle("shown", frame !== undefined && dot.dataset.frameIndex === String(shown));
  }
  for (const row of $("timeline-table").querySelectorAll("tbody tr")) {
    row.classList.toggle("shown", frame !== undefined && row.dataset.frameIndex === String(shown));
  }
}

export function niceTicks(duration, most) {
  const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200];
  const step = steps.find((st) => duration / st <= most) || 3600;
  const ticks = [];
  for (let t = 0; t <= duration + 1e-9; t += step) ticks.push(Number(t.toFixed(1)));
  return ticks;
}

/** What the lines mean, with this result's thresholds. */
function renderTimelineNote(result) {
  const texts = scoreTexts(null, result);
  const lines = texts.real
    ? `Red dashed line: likely manipulated from ${texts.fake}; amber dotted: no sign of manipulation ` +
      `below ${texts.real}; inconclusive between.`
    : `Red dashed line: likely manipulated from ${texts.fake}.`;
  $("timeline-lines").textContent = texts.fake ? lines : "";
}

export function renderTimelineTable(result, frames, tracks) {
  const table = $("timeline-table");
  const head = el("tr", null, el("th", { scope: "col", text: "Time" }));
  for (const track of tracks) head.append(el("th", { scope: "col", text: trackLabel(result, track.track) }));
  const body = el("tbody");
  for (const frame of frames) {
    const row = el("tr", { "data-frame-index": frame.frame_index },
      el("th", { scope: "row", text: formatSeconds(frame.timestamp_s) }));
    for (const track of tracks) {
      const score = frame.scores ? frame.scores[String(track.track)] : undefined;
      row.append(el("td", { text: typeof score === "number" ? scorePercent(score, result) : "–" }));
    }
    body.append(row);
  }
  table.append(el("caption", { class: "visually-hidden", text: "Manipulation score per sampled frame" }),
    el("thead", null, head), body);
}
