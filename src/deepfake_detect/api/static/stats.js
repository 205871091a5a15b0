// The "Model accuracy over time" panel: GET v1/stats, per ISO week and model version, how many
// results there were, the shares called fake and inconclusive, and how the reviewers' labels
// compare with the verdicts they label (agreement over decided verdicts: a label on an
// inconclusive verdict settles it, and is neither agreement nor disagreement). A one-line summary that unfolds the table. A deployment without the report
// (404) hides the panel; it is read again when results finish, a label is given or the history is
// refreshed.
import { $, el, getJson, percent } from "./client.js";

export const STATS_WEEKS = 8;
const state = { timer: 0, loading: null };

const count = (n, one, many) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
const rate = (value) => (typeof value === "number" ? percent(value) : "–");

function weekName(row) {
  const monday = new Date(`${row.week_start}T00:00:00Z`);
  const day = monday.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
  return `${row.week} (${day})`;
}

/** The panel's one-line summary over every row of the report (the table has the rest). */
export function statsSummary(report) {
  const total = (key) => report.rows.reduce((sum, row) => sum + (typeof row[key] === "number" ? row[key] : 0), 0);
  const results = total("results");
  const labels = total("labels");
  const resolved = total("resolved");
  const decided = labels - resolved; // labels on a fake or no-sign verdict
  const span = `Last ${count(report.weeks, "week", "weeks")}`;
  let text;
  if (!results && !labels) {
    text = `${span}: no checks yet.`;
  } else {
    const done = total("done");
    const fake = done ? `, ${percent(total("fake") / done)} called fake` : "";
    const unsure = done && total("inconclusive") ? `, ${percent(total("inconclusive") / done)} inconclusive` : "";
    text = `${span}: ${count(results, "check", "checks")}${fake}${unsure}`;
    const settled = resolved ? `; ${count(resolved, "label", "labels")} settled inconclusive ones` : "";
    if (!labels) text += ", none reviewed.";
    else if (decided > 0) {
      text += `; reviewers agree with ${percent(total("agreed") / decided)} of ` +
        `${count(decided, "labelled verdict", "labelled verdicts")}${settled}.`;
    } else text += `${settled}.`;
  }
  if (report.truncated) text += ` (The newest ${report.limit.toLocaleString("en")} only.)`;
  return text;
}

/** The report as a table: one row per week and model version, newest week first. */
export function statsTable(report) {
  const head = ["Week", "Model", "Results", "Called fake", "Inconclusive", "Labels", "Settled", "Agreement",
    "False positives", "Misses"];
  const share = (row, key) => (row.done && typeof row[key] === "number" ? percent(row[key] / row.done) : "–");
  const table = el("table", { class: "accuracy-table" },
    el("caption", { class: "visually-hidden", text: "Model accuracy per ISO week and model version" }),
    el("thead", null, el("tr", null, ...head.map((text) => el("th", { scope: "col", text })))),
    el("tbody", null, ...report.rows.map((row) => el("tr", null,
      el("th", { scope: "row", text: weekName(row) }),
      el("td", { text: row.model_version === null ? "no model" : row.model_version }),
      el("td", { text: row.results.toLocaleString("en") }),
      el("td", { text: rate(row.fake_rate) }),
      el("td", { text: share(row, "inconclusive") }),
      el("td", { text: row.labels.toLocaleString("en") }),
      el("td", { text: (row.resolved || 0).toLocaleString("en") }),
      el("td", { text: rate(row.agreement) }),
      el("td", { text: row.false_positives.toLocaleString("en") }),
      el("td", { text: row.misses.toLocaleString("en") })))));
  // A scroller is focusable, so that a keyboard can scroll it too.
  return el("div", { class: "table-scroll", tabindex: "0", role: "region",
    "aria-label": "Model accuracy per week and model version" }, table);
}

export async function loadStats() {
  if (state.loading) return state.loading;
  state.loading = (async () => {
    const panel = $("accuracy-panel");
    const summary = $("accuracy-summary");
    try {
      const report = await getJson(`v1/stats?weeks=${STATS_WEEKS}`);
      panel.hidden = false;
      summary.textContent = statsSummary(report);
      $("accuracy-table").replaceChildren(report.rows.length
        ? statsTable(report)
        : el("p", { class: "hint", text: "Nothing was checked in these weeks." }));
    } catch (error) {
      if (error.code === "not_available") {
        panel.hidden = true; // this deployment keeps no report
        return;
      }
      panel.hidden = false;
      summary.textContent = `The accuracy report could not be loaded. ${error.message}`;
      $("accuracy-table").replaceChildren();
    } finally {
      state.loading = null;
    }
  })();
  return state.loading;
}

/** Read the report again shortly (results finished, a label was given): one request for a burst. */
export function scheduleStatsRefresh() {
  clearTimeout(state.timer);
  state.timer = setTimeout(loadStats, 500);
}
