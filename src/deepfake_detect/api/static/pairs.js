// Name and value rows in a <dl>: the result's details, the printable report's facts, the model card.
import { el } from "./client.js";

/** Name and value rows; a value is text, or a node (a list, a table) put in as it is. */
export function fillPairs(dl, rows) {
  dl.replaceChildren();
  for (const [key, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    const dd = value instanceof Node ? el("dd", null, value) : el("dd", { text: String(value) });
    dl.append(el("dt", { text: key }), dd);
  }
}
