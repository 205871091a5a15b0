// The reviewer's side: a "Real" / "Fake" label (and an optional note) on a finished result, sent to
// POST v1/results/{id}/feedback; the labels already given, read from GET v1/feedback, shown on the
// result, in its report and as a "reviewed: fake" tag in the history. The server decides who the
// reviewer is (the signed-in user in the cloud; the one local user on this computer) and may refuse
// (403) someone who is not a reviewer: its reason is shown as it is.
import { $, el, formatDate, getJson, postJson } from "./client.js";
import { announce, service } from "./service.js";

export const labels = new Map(); // result id -> the server's label record
// result id -> a reviewer's label on an identical file (GET v1/results/{id}'s same_file.label)
const carried = new Map();
const asked = new Set(); // result ids whose label was read from the server (labelled or not)
const current = { id: null, busy: false };

export function labelWords(item) {
  // Locally there is one user, whom the server names "local": no name worth showing.
  const who = item.reviewer && service.mode === "cloud" ? `, by ${item.reviewer}` : "";
  const when = item.created_at ? ` on ${formatDate(item.created_at)}` : "";
  return `${item.label}${who}${when}`;
}

/** The report's "Reviewer's label" value (kept up to date while the result is shown). */
export function reviewFact(id) {
  const item = labels.get(id);
  const text = item ? labelWords(item) + (item.note ? `. Note: ${item.note}` : "") : "not reviewed";
  return el("span", { id: "report-review", text });
}

/** Labels the list of results already carries (a server that sends them), kept without asking. */
export function rememberLabel(id, item) {
  if (!item || !item.label) return;
  labels.set(id, item);
  asked.add(id);
}

/** A label given on another result of the same file, which applies to this one (same-file.js). */
export function setCarriedLabel(id, label) {
  if (label) carried.set(id, label);
  else carried.delete(id);
  if (current.id === id) showLabel(id);
}

/** Read every label again on the next ask (the history was refreshed: someone may have labelled
 * meanwhile). The labels known so far stay shown until then. */
export function forgetAsked() {
  asked.clear();
}

/** Ask the server for the labels of these results, then tag their history rows. A deployment that
 * keeps no feedback (404) or an error leaves the rows untagged: the labels are an extra. */
export async function loadLabels(ids) {
  const wanted = [...new Set(ids.filter((id) => id && !asked.has(id)))];
  for (let i = 0; i < wanted.length; i += 100) {
    const chunk = wanted.slice(i, i + 100);
    const query = new URLSearchParams();
    for (const id of chunk) query.append("result_id", id);
    let page;
    try {
      page = await getJson(`v1/feedback?${query}`);
    } catch {
      return;
    }
    for (const id of chunk) asked.add(id);
    for (const item of page.items || []) labels.set(item.result_id, item);
    for (const id of chunk) showLabel(id);
  }
}

/** The history row's tag and accessible name. */
export function tagHistoryRow(id, row = document.querySelector(`#history li[data-result-id="${CSS.escape(id)}"]`)) {
  if (!row) return;
  const button = row.querySelector("button");
  const meta = row.querySelector(".h-meta");
  const old = row.querySelector(".h-review");
  if (old) old.remove();
  const item = labels.get(id);
  const base = button.dataset.name || "";
  if (!item) {
    button.setAttribute("aria-label", base);
    return;
  }
  const tag = `reviewed: ${item.label}`;
  meta.append(el("span", { class: `h-review ${item.label}`, text: tag }));
  button.setAttribute("aria-label", `${base}, ${tag}`);
}

function showLabel(id) {
  tagHistoryRow(id);
  if (current.id !== id) return;
  const item = labels.get(id);
  const other = carried.get(id);
  $("review-current").textContent = item
    ? `Reviewed: ${labelWords(item)}.` + (item.note ? ` Note: ${item.note}` : "")
    : other ? `Not reviewed yet. An identical file was labelled ${labelWords(other)}.` : "Not reviewed yet.";
  for (const button of [$("review-real"), $("review-fake")]) {
    button.setAttribute("aria-pressed", String(Boolean(item) && item.label === button.dataset.label));
  }
  const fact = $("report-review");
  if (fact) fact.replaceWith(reviewFact(id));
}

export function renderReview(result) {
  const section = $("review");
  // Only a finished scan can be labelled (the server answers 409 for the rest).
  const reviewable = result.status === "done" && result.verdict !== "error";
  section.hidden = !reviewable;
  if (current.id !== result.id) {
    $("review-error").textContent = "";
    $("review-note").value = "";
    $("review-more").open = false;
  }
  current.id = result.id;
  $("review-signed-in").hidden = service.mode !== "cloud";
  showLabel(result.id);
  if (reviewable) loadLabels([result.id]);
}

/** The words for a refused label: a 403 says who may label, in the server's own words. */
export function reviewError(error) {
  if (error.status === 403) {
    const said = error.detail && error.detail !== error.message ? error.detail : error.message;
    return `You may not label results here. The server said: ${said}`;
  }
  if (error.status === 401) return "Please sign in again to label results.";
  if (error.code === "not_available") return "This service does not keep reviews.";
  if (error.code === "result_not_done") return `This result cannot be labelled: ${error.detail}`;
  return error.detail && error.detail !== error.message ? `${error.message} (${error.detail})` : error.message;
}

async function submit(label) {
  const id = current.id;
  if (!id || current.busy) return;
  const buttons = [$("review-real"), $("review-fake")];
  const problem = $("review-error");
  current.busy = true;
  buttons.forEach((button) => { button.disabled = true; });
  problem.textContent = "";
  try {
    const saved = await postJson(`v1/results/${encodeURIComponent(id)}/feedback`,
      { label, note: $("review-note").value.trim() });
    labels.set(id, saved);
    asked.add(id);
    showLabel(id);
    announce(`Labelled ${label}.`);
    document.dispatchEvent(new Event("deepfake:results-changed")); // the accuracy panel reads again
  } catch (error) {
    const words = reviewError(error);
    if (current.id === id) problem.textContent = words;
    announce(words);
  } finally {
    current.busy = false;
    buttons.forEach((button) => { button.disabled = false; });
  }
}

export function wireReview() {
  $("review-real").addEventListener("click", () => submit("real"));
  $("review-fake").addEventListener("click", () => submit("fake"));
}
