// The "Model accuracy over time" panel: GET v1/stats, per ISO week and model version, how many
// results there were, the share called fake, and how the reviewers' labels compare with the
// verdicts they label. A one-line summary, and the table folded below it. A deployment without
// the report (404) hides the panel; it is read again when results finish or a label is given.
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

/** The panel's summary sentence over every row of the report. */
export function statsSummary(report) {
  const total = (key) => report.rows.reduce((sum, row) => sum + row[key], 0);
  const results = total("results");
  const labels = total("labels");
  const span = `Last ${count(report.weeks, "week", "weeks")}`;
  if (!results && !labels) return `${span}: no results yet.`;
  const done = total("done");
  const fake = done ? `, ${percent(total("fake") / done)} called fake` : "";
  let text = `${span}: ${count(results, "result", "results")}${fake}`;
  if (!labels) {
    text += "; none reviewed yet.";
  } else {
    const agreed = total("agreed");
    text += `; reviewers agreed with ${agreed} of ${count(labels, "labelled verdict", "labelled verdicts")}`
      + ` (${percent(agreed / labels)}): ${count(total("false_positives"), "false positive", "false positives")}`
      + ` and ${count(total("misses"), "miss", "misses")} confirmed.`;
  }
  if (report.truncated) text += ` Only the newest ${report.limit.toLocaleString("en")} results were read.`;
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
      $("accuracy-table").replaceChildren(statsTable(report));
      $("accuracy-block").hidden = report.rows.length === 0;
    } catch (error) {
      if (error.code === "not_available") {
        panel.hidden = true;
        return;
      }
      panel.hidden = false;
      summary.textContent = `The accuracy report could not be loaded. ${error.message}`;
      $("accuracy-block").hidden = true;
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
