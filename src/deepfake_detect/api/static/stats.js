// The "Model accuracy over time" panel: GET v1/stats, per ISO week and model version, how many
// results there were, the share called fake, and how the reviewers' labels compare with the
// verdicts they label. A one-line summary that unfolds the table. A deployment without the report
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
  const total = (key) => report.rows.reduce((sum, row) => sum + row[key], 0);
  const results = total("results");
  const labels = total("labels");
  const span = `Last ${count(report.weeks, "week", "weeks")}`;
  let text;
  if (!results && !labels) {
    text = `${span}: no checks yet.`;
  } else {
    const done = total("done");
    const fake = done ? `, ${percent(total("fake") / done)} called fake` : "";
    text = `${span}: ${count(results, "check", "checks")}${fake}`;
    text += labels
      ? `; reviewers agree with ${percent(total("agreed") / labels)} of ${count(labels, "label", "labels")}.`
      : ", none reviewed.";
  }
  if (report.truncated) text += ` (The newest ${report.limit.toLocaleString("en")} only.)`;
  return text;
}

/** The report as a table: one row per week and model version, newest week first. */
export function statsTable(report) {
  const head = ["Week", "Model", "Results", "Called fake", "Labels", "Agreement", "False positives", "Misses"];
  const table = el("table", { class: "accuracy-table" },
    el("caption", { class: "visually-hidden", text: "Model accuracy per ISO week and model version" }),
    el("thead", null, el("tr", null, ...head.map((text) => el("th", { scope: "col", text })))),
    el("tbody", null, ...report.rows.map((row) => el("tr", null,
      el("th", { scope: "row", text: weekName(row) }),
      el("td", { text: row.model_version === null ? "no model" : row.model_version }),
      el("td", { text: row.results.toLocaleString("en") }),
      el("td", { text: rate(row.fake_rate) }),
      el("td", { text: row.labels.toLocaleString("en") }),
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
