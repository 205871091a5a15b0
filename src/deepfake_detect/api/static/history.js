// Past results, newest first, paged.
import { BANDS, bandClass, isBand, scorePercent } from "./bands.js";
import { $, el, formatDate, getJson } from "./client.js";
import { showResult } from "./evidence.js";
import { forgetAsked, loadLabels, rememberLabel, tagHistoryRow } from "./review.js";
import { HISTORY_PAGE } from "./words.js";

// ---------------------------------------------------------------- history
export const past = { token: null, loading: false, resetPending: false, refreshTimer: 0 };

/** The badge: the band and the number called what it is ("Inconclusive, score 62%"); the score is
 * the probability of manipulation, so it never stands next to a word it could be read against. */
export function historyVerdict(item) {
  if (item.status === "queued" || item.status === "processing") return "Checking…";
  if (item.verdict === "fake" && item.verdict_reason) return "AI-generated (declared)";
  if (isBand(item.verdict)) {
    const title = item.verdict === "inconclusive" ? "Inconclusive" : BANDS[item.verdict].title;
    return typeof item.score === "number" ? `${title}, score ${scorePercent(item.score, item)}` : title;
  }
  return item.verdict === "no_face" ? "No face" : "Failed";
}

/** What the verdict filter calls a result: a band, "declared" (AI generation its metadata
 * declares), "no_face", "checking" or "failed". */
export function verdictKind(item) {
  if (item.status === "queued" || item.status === "processing") return "checking";
  if (item.verdict === "fake" && item.verdict_reason) return "declared";
  if (isBand(item.verdict) || item.verdict === "no_face") return item.verdict;
  return "failed";
}

/** Show the rows whose file name contains the search text (any case) and whose verdict is the one
 * picked. The service lists results without a query, so this searches the pages loaded so far; the
 * note says so, and "Show older results" searches further. */
export function filterHistory() {
  const text = $("history-search").value.trim().toLowerCase();
  const kind = $("history-verdict").value;
  const rows = [...$("history").children];
  let shown = 0;
  for (const row of rows) {
    const match = (!text || (row.dataset.path || "").includes(text)) && (!kind || row.dataset.kind === kind);
    row.hidden = !match;
    if (match) shown += 1;
  }
  const note = $("history-filter-note");
  const filtering = Boolean(text || kind);
  note.hidden = !filtering;
  if (filtering) {
    const older = $("history-more").hidden ? "" : " Show older results to search further back.";
    note.textContent = `${shown ? `Showing ${shown}` : "None"} of the ${rows.length} results loaded.${older}`;
  }
}

export async function loadHistory(reset) {
  if (past.loading) {
    // A refresh asked for mid-load (a scan finished) must not be lost: it runs when this one ends.
    if (reset) past.resetPending = true;
    return;
  }
  past.loading = true;
  const list = $("history");
  const more = $("history-more");
  // A click while a page is still loading (its labels included) would be dropped by the guard
  // above, so the button says it is not ready until the page is complete.
  more.disabled = true;
  try {
    const query = new URLSearchParams({ limit: String(HISTORY_PAGE) });
    if (!reset && past.token) query.set("token", past.token);
    const page = await getJson(`v1/results?${query}`);
    if (reset) {
      list.replaceChildren();
      forgetAsked();
    }
    for (const item of page.items) {
      rememberLabel(item.id, item.feedback); // a list that carries its labels saves the request below
      list.append(historyRow(item));
    }
    past.token = page.next_token;
    more.hidden = !page.next_token;
    $("history-empty").hidden = list.children.length > 0;
    filterHistory();
    await loadLabels(page.items.filter((item) => item.status === "done").map((item) => item.id));
  } catch (error) {
    $("history-empty").hidden = false;
    $("history-empty").textContent = `The history could not be loaded. ${error.message}`;
  } finally {
    past.loading = false;
    more.disabled = false;
  }
  if (past.resetPending) {
    past.resetPending = false;
    await loadHistory(true);
  }
}

export function historyRow(item) {
  const cls = isBand(item.verdict) ? bandClass(item.verdict)
    : item.verdict === "error" || item.status === "failed" ? "error" : "other";
  const verdict = historyVerdict(item);
  const date = formatDate(item.created_at);
  // An explicit name, so screen readers do not run the parts together (a review adds its tag).
  const name = `${item.path}: ${verdict}, ${date}`;
  const button = el("button", { type: "button", class: cls, title: item.path, "aria-label": name,
    "data-name": name },
    el("span", { class: "h-name", text: item.path }),
    el("span", { class: "h-verdict", text: verdict }),
    el("span", { class: "h-meta" }, el("span", { class: "h-date", text: date })));
  button.addEventListener("click", () => showResult(item, { focus: true }));
  const row = el("li", { "data-result-id": item.id, "data-path": String(item.path || "").toLowerCase(),
    "data-kind": verdictKind(item) }, button);
  tagHistoryRow(item.id, row);
  return row;
}

export function scheduleHistoryRefresh() {
  document.dispatchEvent(new Event("deepfake:results-changed")); // the accuracy panel reads again
  clearTimeout(past.refreshTimer);
  past.refreshTimer = setTimeout(() => loadHistory(true), 300);
}
