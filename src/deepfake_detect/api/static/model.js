// The model card panel: for readers first, a few lines on what the verdicts mean and what the model
// catches and misses, per kind of fake and per band, from the card's own measurements; the card in
// full (crop, outputs, training data, every metric) folded away for developers.
import { formatPercent, thresholdTexts } from "./bands.js";
import { bandGroups, rate, readerLines } from "./card-facts.js";
import { $, el, formatDate, getJson } from "./client.js";
import { drawOverlay, fillPairs, renderVerdict, view } from "./evidence.js";
import { renderReport } from "./report.js";
import { service } from "./service.js";

// ---------------------------------------------------------------- model card
// Metrics whose values in [0, 1] are rates, shown as percentages (AUC and ECE stay numbers).
export const METRIC_PERCENT = /acc|precision|recall|f1|tpr|fpr|rate|called_fake|caught/i;

const words = (key) => String(key).replace(/_/g, " ");
const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

/** One metric value as text; ``rates`` marks a group whose numbers are all rates (robustness). */
export function formatMetric(key, value, rates = false) {
  if (typeof value === "number") {
    if ((rates || METRIC_PERCENT.test(key)) && key !== "n" && value >= 0 && value <= 1) {
      return `${(value * 100).toFixed(1)}%`;
    }
    if (Number.isInteger(value)) return value.toLocaleString("en");
    const size = Math.abs(value);
    return size !== 0 && size < 0.001 ? value.toExponential(2) : String(Number(value.toFixed(4)));
  }
  if (Array.isArray(value)) {
    const base = key.replace(/_?95ci$/, "");
    const parts = value.map((v) => (isObject(v) || Array.isArray(v) ? JSON.stringify(v) : formatMetric(base, v, rates)));
    return /95ci$/.test(key) && value.length === 2 ? `${parts[0]} to ${parts[1]} (95% interval)` : parts.join(", ");
  }
  return String(value);
}

/** A table of a list of records (one column per key), in a sideways scroller. */
export function recordTable(records, caption, cls = null) {
  const columns = [];
  for (const record of records) {
    for (const key of Object.keys(isObject(record) ? record : {})) if (!columns.includes(key)) columns.push(key);
  }
  const cell = (tag, text) => el(tag, { text });
  const table = el("table", { class: cls },
    caption ? el("caption", { class: "visually-hidden", text: caption }) : null,
    el("thead", null, el("tr", null, ...columns.map((c) => el("th", { scope: "col", text: words(c) })))),
    el("tbody", null, ...records.map((record) => el("tr", null, ...columns.map((c) => {
      const value = isObject(record) ? record[c] : null;
      return cell("td", value === null || value === undefined ? "–" : formatMetric(c, value));
    })))));
  // A scroller is focusable, so that a keyboard can scroll it too.
  return el("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": caption || "table" }, table);
}

/** The metrics tree as nested, folded groups: each level's values as name/value pairs, each
 * deeper level a <details> of its own, a list of records as a table. Nothing is "[object Object]". */
export function metricsTree(metrics, label = "") {
  const fragment = document.createDocumentFragment();
  const rates = typeof metrics.rate === "string";
  const rows = [];
  const groups = [];
  for (const [key, value] of Object.entries(metrics)) {
    if (value === null || value === undefined) continue;
    if (isObject(value)) groups.push([key, value]);
    else if (Array.isArray(value) && value.some(isObject)) groups.push([key, value]);
    else rows.push([words(key), formatMetric(key, value, rates)]);
  }
  if (rows.length) {
    const dl = el("dl", { class: "kv" });
    fillPairs(dl, rows);
    fragment.append(dl);
  }
  for (const [key, value] of groups) {
    const name = label ? `${label} › ${words(key)}` : words(key);
    const body = Array.isArray(value) ? recordTable(value, name) : metricsTree(value, name);
    const count = Array.isArray(value) ? ` (${value.length})` : "";
    fragment.append(el("details", { class: "metric-group", "data-metric": name },
      el("summary", { text: `${words(key)}${count}` }), body));
  }
  return fragment;
}

const sentence = (text) => `${text[0].toUpperCase()}${text.slice(1)}`;

/** The card's training data: sources as a list, per-source counts as a table (with the totals),
 * other groups as name/value pairs, single values as lines. */
export function trainingData(data) {
  if (data === null || data === undefined) return [];
  if (!isObject(data)) data = { sources: Array.isArray(data) ? data : [String(data)] };
  const table = Object.entries(data).find(([, v]) => isObject(v) && Object.values(v).length
    && Object.values(v).every(isObject));
  const parts = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === null || value === undefined) continue;
    const title = el("p", { class: "card-note", text: `${sentence(words(key))}:` });
    if (Array.isArray(value)) {
      if (!value.length) continue;
      parts.push(title, el("ul", { class: "card-list" },
        ...value.map((v) => el("li", { text: isObject(v) ? JSON.stringify(v) : String(v) }))));
    } else if (table && key === table[0]) {
      // {source: {train, val, test}}: one row per source, and the totals ("faces") below them.
      const rows = Object.entries(value).map(([name, counts]) => ({ source: name, ...counts }));
      if (isObject(data.faces)) rows.push({ source: "all", ...data.faces });
      parts.push(title, recordTable(rows, words(key), "card-table"));
    } else if (isObject(value)) {
      if (table && key === "faces") continue; // the totals row of the table
      const dl = el("dl", { class: "kv" });
      fillPairs(dl, Object.entries(value).filter(([, v]) => !isObject(v))
        .map(([k, v]) => [words(k), formatMetric(k, v)]));
      parts.push(title, dl);
    } else {
      parts.push(el("p", { class: "card-note", text: `${sentence(words(key))}: ${formatMetric(key, value)}` }));
    }
  }
  return parts;
}

/** Where the card's figures come from, in a few words. */
function measuredOn(card) {
  const evaluation = card.metrics && card.metrics.evaluation;
  const overall = evaluation && evaluation.image_level && evaluation.image_level.overall;
  if (!overall || typeof overall.n !== "number") return "";
  const split = evaluation.split || "test";
  return `Measured on its ${split} split (${overall.n.toLocaleString("en")} faces the model never ` +
    "trained on), at its thresholds. Faces unlike these (other cameras, generators, swap tools) may fare " +
    "worse.";
}

/** The test faces of each source in each band: per source a bar (no sign, inconclusive, likely
 * manipulated) and its numbers in words; null without the card's band table. */
function bandList(card) {
  const groups = bandGroups(card);
  if (!groups.length) return null;
  const bands = [["real", "no sign"], ["inconclusive", "inconclusive"], ["fake", "likely manipulated"]];
  return el("ul", { class: "band-list" }, ...groups.map((row) => {
    const bar = el("span", { class: "band-bar", "aria-hidden": "true" });
    for (const [band] of bands) {
      const part = el("span", { class: `band-part ${band}` });
      part.style.width = `${Math.max(0, Math.min(1, row[band])) * 100}%`; // CSSOM: allowed by the CSP
      bar.append(part);
    }
    const words = bands.map(([band, name]) => `${rate(row[band])} ${name}`).join(", ");
    return el("li", { "data-group": row.group },
      el("span", { class: "band-name", text: `${row.name}${row.n ? ` (${row.n.toLocaleString("en")})` : ""}` }),
      bar, el("span", { class: "band-words", text: words }));
  }));
}

function renderReaderPanel(card) {
  $("model-name").textContent = `${card.name} ${card.version}` +
    (card.created_at ? `, made ${formatDate(card.created_at)}` : "");
  const facts = readerLines(card).map(([title, text]) =>
    el("li", null, el("strong", { text: `${title}: ` }), text));
  const note = measuredOn(card);
  if (note && facts.length > 1) facts.push(el("li", { class: "model-note", text: note }));
  $("model-facts").replaceChildren(...facts);
  const list = bandList(card);
  $("model-bands").replaceChildren(...(list ? [list] : []));
  $("model-bands-block").hidden = !list;
}

/** The kinds of evidence the card has outputs for, with their own thresholds. */
function kindThresholds(card) {
  const kinds = card.kinds && typeof card.kinds === "object" ? Object.entries(card.kinds) : [];
  const words = { generated: "looks AI-generated", swapped: "looks face-swapped" };
  const parts = kinds.filter(([, k]) => k && typeof k.threshold === "number")
    .map(([name, k]) => `${words[name] || name.replace(/_/g, " ")} from ${formatPercent(k.threshold)}`);
  return parts.length ? parts.join("; ") : null;
}

export async function loadModelCard() {
  const dl = $("model-card");
  try {
    const card = await getJson("v1/model");
    service.card = card;
    service.inputSize = card.preprocessing && card.preprocessing.input_size;
    renderReaderPanel(card);
    const t = thresholdTexts(card);
    const pre = card.preprocessing || {};
    fillPairs(dl, [
      ["Name", card.name],
      ["Version", card.version],
      ["Created", card.created_at ? formatDate(card.created_at) : null],
      ["Architecture", card.architecture],
      ["Likely manipulated from", t.fake || null],
      ["No sign of manipulation below", t.real || "not set (no inconclusive band)"],
      ["Kind of evidence", kindThresholds(card)],
      ["Face crop", service.inputSize ? `${service.inputSize} × ${service.inputSize} pixels` : null],
      ["Crop margin", typeof pre.margin === "number" ? String(pre.margin) : null],
      ["Calibration", card.calibration && typeof card.calibration.temperature === "number"
        ? `${card.calibration.method || "temperature"} ${card.calibration.temperature}` : null],
      ["Heat map", card.outputs && card.outputs.cam ? "class-activation map, scaled to each face's own range"
        : "not available"],
      ["Licence", card.license],
    ]);
    // The training data gets the panel's whole width (its table does not fit beside a name column),
    // folded like the metrics so that the page stays short.
    const training = trainingData(card.training_data);
    $("model-training").replaceChildren(...training);
    $("model-training-block").hidden = training.length === 0;
    // The evaluation runs to hundreds of values: folded away, group by group, so it does not make
    // the page long.
    const metrics = $("model-metrics");
    const tree = isObject(card.metrics) ? metricsTree(card.metrics) : null;
    metrics.replaceChildren(...(tree ? [tree] : []));
    $("model-metrics-block").hidden = !metrics.children.length;
    const limits = $("model-limitations");
    const known = Array.isArray(card.limitations) ? card.limitations : [];
    limits.replaceChildren(...(known.length ? [el("ul", null, ...known.map((text) => el("li", { text })))] : []));
    $("model-limitations-block").hidden = !known.length;
    if (view.result) {
      renderVerdict(view.result); // what the model catches, next to a "no sign" verdict
      drawOverlay(); // the heat map needs the crop size
      renderReport(view.result); // and the report the measured accuracy
    }
  } catch (error) {
    $("model-name").textContent = `The model card is unavailable (${error.message}).`;
    fillPairs(dl, [["Model", `unavailable (${error.message})`]]);
  }
}
