// The model card panel.
import { $, el, formatDate, getJson, percent } from "./client.js";
import { drawOverlay, fillPairs, view } from "./evidence.js";
import { service } from "./service.js";

// ---------------------------------------------------------------- model card
export const METRIC_PERCENT = /acc|auc|precision|recall|f1|tpr|fpr|rate/i;

export function metricRows(metrics, prefix, depth) {
  const rows = [];
  for (const [key, value] of Object.entries(metrics || {})) {
    const name = prefix ? `${prefix} › ${key.replace(/_/g, " ")}` : key.replace(/_/g, " ");
    if (typeof value === "number") {
      const asPercent = METRIC_PERCENT.test(key) && value >= 0 && value <= 1;
      rows.push([name, asPercent ? `${(value * 100).toFixed(1)}%` : String(Number(value.toFixed(4)))]);
    } else if (value && typeof value === "object" && !Array.isArray(value) && depth < 2) {
      rows.push(...metricRows(value, name, depth + 1));
    } else if (value !== null && value !== undefined) {
      rows.push([name, Array.isArray(value) ? value.join(", ") : String(value)]);
    }
  }
  return rows;
}

export async function loadModelCard() {
  const dl = $("model-card");
  try {
    const card = await getJson("v1/model");
    service.card = card;
    service.inputSize = card.preprocessing && card.preprocessing.input_size;
    const data = Array.isArray(card.training_data) ? card.training_data.join(", ")
      : Object.keys(card.training_data || {}).join(", ");
    fillPairs(dl, [
      ["Name", card.name],
      ["Version", card.version],
      ["Created", card.created_at ? formatDate(card.created_at) : null],
      ["Architecture", card.architecture],
      ["Decision threshold", typeof card.threshold === "number" ? percent(card.threshold) : null],
      ["Face crop", service.inputSize ? `${service.inputSize} × ${service.inputSize} pixels` : null],
      ["Heat map", card.outputs && card.outputs.cam ? "class-activation map" : "not available"],
      ["Training data", data],
      ["Licence", card.license],
    ]);
    // The evaluation can run to dozens of rows: folded away, so it does not make the page long.
    const metrics = metricRows(card.metrics, "", 0);
    fillPairs($("model-metrics"), metrics);
    $("model-metrics-block").hidden = metrics.length === 0;
    const limits = $("model-limitations");
    limits.replaceChildren();
    if (card.limitations && card.limitations.length) {
      limits.append(el("h3", { text: "Known limitations" }),
        el("ul", null, ...card.limitations.map((text) => el("li", { text }))));
    }
    if (view.result) drawOverlay(); // the heat map needs the crop size
  } catch (error) {
    fillPairs(dl, [["Model", `unavailable (${error.message})`]]);
  }
}
