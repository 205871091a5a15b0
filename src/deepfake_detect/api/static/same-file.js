// Results of the same file (GET v1/results/{id}'s same_file: the same bytes, by their SHA-256,
// whatever the file's name): "Seen twice before", links to those results, and a reviewer's label on
// any of them, which applies to this file too (the server looks it up when the result is read, so
// it is never a stale copy). A result opened from the history list is read again for it.
import { $, el, formatDate, getJson } from "./client.js";
import { setCarriedLabel } from "./review.js";
import { service } from "./service.js";

const shown = { seq: 0 };
const sections = new Map(); // result id -> its same-file section, as last shown (for the report)

/** "once", "twice", "3 times". */
export function times(n) {
  return n === 1 ? "once" : n === 2 ? "twice" : `${n} times`;
}

/** The section's headline: "Seen twice before.", "Seen once before and once since.", "Checked
 * again 3 times since." (this result is an older one). */
export function sameFileSummary(section) {
  const later = section.count - section.earlier;
  if (!section.earlier) return `Checked again ${times(later)} since.`;
  return `Seen ${times(section.earlier)} before${later ? ` and ${times(later)} since` : ""}.`;
}

/** "Labelled fake by a reviewer on 14/03/2025, 13:00, on an identical file." */
export function carriedLabelWords(label) {
  const who = label.reviewer && service.mode === "cloud" ? label.reviewer : "a reviewer";
  return `Labelled ${label.label} by ${who} on ${formatDate(label.created_at)}, on an identical file.`;
}

function draw(section) {
  const box = $("same-file");
  box.hidden = !section || !section.count;
  if (box.hidden) return;
  $("same-file-summary").textContent = sameFileSummary(section);
  const carried = $("same-file-label");
  carried.hidden = !section.label;
  carried.className = `same-file-label ${section.label ? section.label.label : ""}`;
  carried.textContent = section.label ? carriedLabelWords(section.label) : "";
  const list = $("same-file-list");
  list.replaceChildren(...section.items.map((item) => el("li", null,
    el("a", { href: `#result/${encodeURIComponent(item.id)}` }, `Checked ${formatDate(item.created_at)}`),
    item.label ? el("span", { class: `same-file-tag ${item.label}`, text: ` labelled ${item.label}` }) : null)));
  const more = section.count - section.items.length;
  if (more > 0) list.append(el("li", { class: "hint", text: `and ${more} more` }));
}

/** Show the section of `result` (read again when the list item it came from has none). */
export async function renderSameFile(result) {
  const seq = ++shown.seq;
  let section = result.same_file;
  if (section === undefined) {
    draw(null);
    setCarriedLabel(result.id, null);
    if (result.status !== "done" && result.status !== "failed") return; // the watch brings it
    try {
      section = (await getJson(`v1/results/${encodeURIComponent(result.id)}`)).same_file;
    } catch {
      return; // an extra: the result is shown without it
    }
    if (seq !== shown.seq) return; // another result was opened meanwhile
  }
  draw(section);
  sections.set(result.id, section || null);
  setCarriedLabel(result.id, section ? section.label : null);
}

/** The report's line for the same file: "Seen twice before. Labelled fake by a reviewer on …, on an
 * identical file." (null when no other result has these bytes, or none was shown). */
export function sameFileFact(id) {
  const section = sections.get(id);
  if (!section || !section.count) return null;
  return sameFileSummary(section) + (section.label ? ` ${carriedLabelWords(section.label)}` : "");
}
