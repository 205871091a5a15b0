// Past results, newest first, paged.
import { BANDS, bandClass, isBand, scorePercent } from "./bands.js";
import { $, el, formatDate, getJson } from "./client.js";
import { showResult } from "./evidence.js";
import { forgetAsked, loadLabels, rememberLabel, tagHistoryRow } from "./review.js";
import { HISTORY_PAGE } from "./words.js";

// ---------------------------------------------------------------- history
export const past = { token: null, loading: false, resetPending: false, refreshTimer: 0, searchTimer: 0,
  search: {} };

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

/** The search the history's filter asks the server for (GET v1/results?q=&verdict=&since=&until=).
 * Dates are the reader's own days: "from" is local midnight of that day, "until" local midnight
 * of the day after, sent as UTC instants. */
export function historySearch() {
  const search = {};
  const text = $("history-search").value.trim();
  if (text) search.q = text;
  const verdict = $("history-verdict").value;
  if (verdict) search.verdict = verdict;
  const since = localDay($("history-since").value, 0);
  if (since) search.since = since;
  const until = localDay($("history-until").value, 1);
  if (until) search.until = until;
  return search;
}

/** "2025-03-14" (an <input type=date>'s value) plus `days`, at local midnight, as an ISO instant. */
function localDay(value, days) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
  if (!match) return "";
  const day = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + days);
  return Number.isNaN(day.getTime()) ? "" : day.toISOString();
}

/** The filter changed: search the server again (typing waits for a pause). */
export function searchHistory({ wait = 0 } = {}) {
  clearTimeout(past.searchTimer);
  past.searchTimer = setTimeout(() => loadHistory(true), wait);
}

/** Under the filter: how many results the search found so far, or that it found none. */
function describeSearch() {
  const note = $("history-filter-note");
  const filtering = Object.keys(past.search).length > 0;
  note.hidden = !filtering;
  if (!filtering) return;
  const found = $("history").children.length;
  const more = !$("history-more").hidden;
  if (found) note.textContent = `${found} matching result${found === 1 ? "" : "s"}${more ? " so far" : ""}.`
    + (more ? " Show older results to search further back." : "");
  else note.textContent = more ? "None found yet. Show older results to search further back."
    : "No results match.";
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
    // A new list takes the filter as it is now; "Show older results" goes on with the same search.
    const search = reset ? historySearch() : past.search;
    const query = new URLSearchParams({ limit: String(HISTORY_PAGE), ...search });
    if (!reset && past.token) query.set("token", past.token);
    const page = await getJson(`v1/results?${query}`);
    if (reset) {
      list.replaceChildren();
      forgetAsked();
      past.search = search;
    }
    for (const item of page.items) {
      rememberLabel(item.id, item.feedback); // a list that carries its labels saves the request below
      list.append(historyRow(item));
    }
    past.token = page.next_token;
    more.hidden = !page.next_token;
    const empty = $("history-empty");
    empty.textContent = "No files checked yet.";
    empty.hidden = list.children.length > 0 || Object.keys(past.search).length > 0; // the note says it
    describeSearch();
    await loadLabels(page.items.filter((item) => item.status === "done").map((item) => item.id));
  } catch (error) {
    if (error.status === 422) { // a search the server refuses (dates the wrong way round): none shown
      list.replaceChildren();
      more.hidden = true;
      $("history-filter-note").hidden = true;
    }
    $("history-empty").hidden = false;
    $("history-empty").textContent = error.status === 422
      ? `The history could not be searched: ${error.detail || error.message}`
      : `The history could not be loaded. ${error.message}`;
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
  const row = el("li", { "data-result-id": item.id }, button);
  tagHistoryRow(item.id, row);
  return row;
}

export function scheduleHistoryRefresh() {
  document.dispatchEvent(new Event("deepfake:results-changed")); // the accuracy panel reads again
  clearTimeout(past.refreshTimer);
  past.refreshTimer = setTimeout(() => loadHistory(true), 300);
}
