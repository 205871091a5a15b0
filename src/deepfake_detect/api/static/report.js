// Sharing a result: its link, its JSON, and the printable report (the result panel under the
// print stylesheet in app.css, headed by the facts filled in here: file, time, hash, model and the
// model's measured accuracy, the reviewer's label).
import { permalink } from "./address.js";
import { scoreTexts } from "./bands.js";
import { bandsLine, cardMatches, readerLines } from "./card-facts.js";
import { $, apiUrl, el, formatDate } from "./client.js";
import { fillPairs } from "./pairs.js";
import { reviewFact } from "./review.js";
import { sameFileFact } from "./same-file.js";
import { announce, service } from "./service.js";

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);
const rate = (value) => `${(value * 100).toFixed(1)}%`;

/** One split's headline figures in words, or null when the card has none of them. */
function measured(name, figures) {
  if (!figures || typeof figures !== "object") return null;
  const parts = [];
  if (isNumber(figures.accuracy)) parts.push(`accuracy ${rate(figures.accuracy)}`);
  if (isNumber(figures.auc)) parts.push(`AUC ${figures.auc.toFixed(3)}`);
  if (isNumber(figures.tpr)) parts.push(`fakes caught ${rate(figures.tpr)}`);
  if (isNumber(figures.fpr)) parts.push(`real faces called fake ${rate(figures.fpr)}`);
  if (!parts.length) return null;
  const count = isNumber(figures.n) ? `, ${figures.n.toLocaleString("en")} faces` : "";
  return `${name}${count}: ${parts.join(", ")}`;
}

/** The model card's headline measurements: the held-out test split (``metrics.evaluation``, written
 * by `make evaluate`) and the validation split (``metrics.val``), each over all of its faces. */
export function accuracyLines(card) {
  const metrics = card && card.metrics;
  if (!metrics || typeof metrics !== "object") return [];
  const evaluation = metrics.evaluation || {};
  const split = evaluation.split ? `${evaluation.split[0].toUpperCase()}${evaluation.split.slice(1)} split`
    : "Test split";
  const lines = [
    measured(split, evaluation.image_level && evaluation.image_level.overall),
    measured("Validation split", metrics.val && metrics.val.overall),
  ].filter(Boolean);
  if (!lines.length) {
    const flat = measured("Measured", metrics);
    if (flat) lines.push(flat);
  }
  return lines;
}

function accuracyFact(result) {
  const card = service.card;
  if (!card) return "the model card could not be read";
  const lines = accuracyLines(card);
  const list = el("ul", { class: "report-list" });
  for (const line of lines) list.append(el("li", { text: line }));
  // What it catches per kind of fake, how often it calls a real face manipulated, the bands.
  for (const [title, text] of readerLines(card).filter(([title]) => !["Verdicts", "Real faces"].includes(title))) {
    list.append(el("li", { text: `${title}: ${text}` }));
  }
  if (!list.children.length) list.append(el("li", { text: "the model card carries no measured figures" }));
  if (!cardMatches(card, result)) {
    const used = result.model ? `${result.model.name} ${result.model.version}` : "an unrecorded model";
    list.append(el("li", { text: `These figures are those of ${card.name} ${card.version} at its ` +
      `thresholds, the model served now; this result came from ${used}` +
      (result.threshold !== card.threshold ? " at other thresholds." : ".") }));
  }
  return list;
}

/** The bands this result was judged by: its own record's thresholds. */
function bandsFact(result) {
  const texts = scoreTexts(result.score, result);
  return texts.fake ? bandsLine(null, texts) : null;
}

/** The file's sha256, where the service recorded it (``source.sha256``). */
export function fileHash(result) {
  return (result.source && result.source.sha256) || null;
}

export function renderReport(result) {
  const link = permalink(result.id);
  const download = $("download-json");
  download.href = apiUrl(`v1/results/${encodeURIComponent(result.id)}`);
  download.setAttribute("download", `deepfake-check-${result.id}.json`);
  $("share-note").textContent = "";
  const hash = fileHash(result);
  fillPairs($("report-facts"), [
    ["File", result.path],
    ["Analysed", result.created_at ? `${formatDate(result.created_at)} (${utc(result.created_at)})` : null],
    ["File SHA-256", hash ? el("code", { class: "hash", text: hash }) : "not recorded by this service"],
    ["Result id", result.id],
    ["Link", el("a", { href: link, text: link })],
    ["Model", result.model ? `${result.model.name} ${result.model.version}` : "not recorded"],
    ["Verdict bands", bandsFact(result)],
    ["Model's measured accuracy", accuracyFact(result)],
    ["Reviewer's label", reviewFact(result.id)],
    ["Same file", sameFileFact(result.id)],
    ["Report made", `${formatDate(new Date().toISOString())}`],
  ]);
}

function utc(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function wireReport(current) {
  $("print-report").addEventListener("click", () => {
    const result = current();
    if (result) renderReport(result); // "Report made" is the time of printing
    window.print();
  });
  window.addEventListener("beforeprint", () => {
    const result = current();
    if (result) renderReport(result);
  });
  $("copy-link").addEventListener("click", async () => {
    const result = current();
    if (!result) return;
    const link = permalink(result.id);
    const note = $("share-note");
    try {
      await navigator.clipboard.writeText(link);
      note.textContent = "Link copied.";
      announce("Link copied.");
    } catch {
      // No clipboard (an insecure origin, or permission refused): show the link to copy by hand.
      note.replaceChildren("Copy this link: ", el("a", { href: link, text: link }));
    }
  });
}
