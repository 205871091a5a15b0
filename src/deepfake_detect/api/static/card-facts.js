// What the model card measured, in words a reader can use: how much of each kind of fake the model
// catches (metrics.evaluation.image_level.by_method), how often it calls a real face manipulated,
// and where the test faces fall among the verdict bands (metrics.evaluation.bands.by_group). A card
// without a figure gives no sentence about it: nothing here is estimated.
import { BANDS, formatPercent, thresholdTexts } from "./bands.js";

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);
const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

// The kinds of fake the training and test data hold, by the card's method names; a method not
// listed keeps its own name (underscores as spaces).
export const METHOD_WORDS = {
  dfdc_faceswap: { kind: "swapped", name: "DFDC face swaps" },
  gan_face_swap: { kind: "swapped", name: "GAN face swaps (InfoSwap, FaceShifter and others)" },
  inswapper_tools: { kind: "swapped", name: "inswapper-based swaps (FaceFusion, ReActor and others)" },
  talking_head_other: { kind: "swapped", name: "talking-head animations (LivePortrait, SadTalker and others)" },
  talking_head_vasa_emo: { kind: "swapped", name: "VASA-1 and EMO talking heads" },
  neuraltextures: { kind: "swapped", name: "NeuralTextures reenactments" },
  stylegan2: { kind: "generated", name: "StyleGAN2 faces" },
  stable_diffusion: { kind: "generated", name: "Stable Diffusion 2.1 portraits" },
  flux: { kind: "generated", name: "FLUX faces" },
  sd1_identity: { kind: "generated", name: "Stable Diffusion 1.x identity-tool faces" },
  sdxl_identity: { kind: "generated", name: "SDXL identity-tool faces" },
  sd1_class_prior: { kind: "generated", name: "Stable Diffusion 1.x faces" },
  other_text_to_image: { kind: "generated", name: "faces from other text-to-image models" },
  headshot_services: { kind: "generated", name: "AI headshot-service faces" },
};

// The data sources of the band table, in words.
const SOURCE_WORDS = {
  dfdc: "DFDC", hardfake: "StyleGAN2 set", sdfd: "SDFD (Stable Diffusion)", london: "London studio portraits",
  utkface: "UTKFace", deepface: "deepface photos", web_photos: "web photos",
  modern_generated: "modern generators", modern_swapped: "modern swap tools",
};

export const methodWords = (method) => METHOD_WORDS[method]
  || { kind: null, name: String(method).replace(/_/g, " ") };
const sourceWords = (source) => SOURCE_WORDS[source] || String(source).replace(/_/g, " ");

function evaluation(card) {
  const metrics = card && card.metrics;
  return metrics && isObject(metrics.evaluation) ? metrics.evaluation : null;
}

/** Each kind of fake in the test split and the share the model calls likely manipulated (at its
 * threshold, against every real face), lowest first: [{method, kind, name, caught, n}]. */
export function catchRates(card) {
  const image = evaluation(card) && evaluation(card).image_level;
  const methods = image && isObject(image.by_method) ? image.by_method : {};
  const rates = [];
  for (const [method, blocks] of Object.entries(methods)) {
    const all = isObject(blocks) && isObject(blocks.vs_all_reals) ? blocks.vs_all_reals : null;
    if (!all || !isNumber(all.tpr)) continue;
    rates.push({ method, ...methodWords(method), caught: all.tpr, n: isNumber(all.n_fake) ? all.n_fake : null });
  }
  return rates.sort((a, b) => a.caught - b.caught || a.name.localeCompare(b.name));
}

/** "17% of DFDC face swaps, 81% of StyleGAN2 faces and 96% of Stable Diffusion 2.1 portraits". */
export function catchList(rates) {
  const parts = rates.map((r) => `${rate(r.caught)} of ${r.name}`);
  return parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}` : parts.join("");
}

/** The sentence next to a "no sign of manipulation" verdict, or "" when the card measured none. */
export function catchSentence(card) {
  const rates = catchRates(card);
  if (!rates.length) return "";
  return `No sign is not proof: of the fakes it was tested on, the model caught ${catchList(rates)}.`;
}

/** The share of real faces the model called likely manipulated in its test split, or null. */
export function falseAlarmRate(card) {
  const image = evaluation(card) && evaluation(card).image_level;
  const overall = image && image.overall;
  return overall && isNumber(overall.fpr) ? { rate: overall.fpr, n: overall.n_real } : null;
}

/** The band table's groups: [{group, source, label, name, n, real, inconclusive, fake}]. */
export function bandGroups(card) {
  const bands = evaluation(card) && evaluation(card).bands;
  const table = bands && isObject(bands.by_group) ? bands.by_group : {};
  const groups = [];
  for (const [group, shares] of Object.entries(table)) {
    if (!isObject(shares) || !["real", "inconclusive", "fake"].every((k) => isNumber(shares[k]))) continue;
    const [source, label] = group.split(":");
    const name = label === "real" ? `${sourceWords(source)}, real faces`
      : label === "fake" ? `${sourceWords(source)}, fakes` : `${sourceWords(source)}: ${methodWords(label).name}`;
    groups.push({ group, source, label, name, n: isNumber(shares.n) ? shares.n : 0,
      real: shares.real, inconclusive: shares.inconclusive, fake: shares.fake });
  }
  return groups;
}

/** Real faces and fakes of every source together (weighted by their counts): the share of each in
 * each band, or null when the card has no band table. */
export function bandTotals(card) {
  const totals = {};
  for (const row of bandGroups(card)) {
    if (row.label !== "real" && row.label !== "fake") continue; // a modern family repeats its source's fakes
    const sum = totals[row.label] || (totals[row.label] = { n: 0, real: 0, inconclusive: 0, fake: 0 });
    sum.n += row.n;
    for (const band of ["real", "inconclusive", "fake"]) sum[band] += row[band] * row.n;
  }
  for (const sum of Object.values(totals)) {
    for (const band of ["real", "inconclusive", "fake"]) sum[band] = sum.n ? sum[band] / sum.n : 0;
  }
  return totals.real && totals.fake && totals.real.n && totals.fake.n ? totals : null;
}

/** One line on how often the model is right in a band, from its tests: "" without a band table. */
export function bandSentence(card, band) {
  const totals = bandTotals(card);
  if (!totals || !(band in totals.real)) return "";
  const real = rate(totals.real[band]);
  const fake = rate(totals.fake[band]);
  return `In its tests this band held ${real} of real faces and ${fake} of fakes.`;
}

/** Whether the card's figures hold for this result: the same model checked it, by the same
 * thresholds (a record made before the bands, or by another model, gets none of them). */
export function cardMatches(card, result) {
  if (!card || !result) return false;
  const used = result.model && result.model.version;
  if (used && card.version && used !== card.version) return false;
  const same = (a, b) => (typeof a === "number" ? a : null) === (typeof b === "number" ? b : null);
  return same(card.threshold, result.threshold) && same(card.threshold_real, result.threshold_real);
}

// A small rate keeps a decimal (0.7%, not 1%).
export const rate = (value) => formatPercent(value, value < 0.1 ? 1 : 0);
const KIND_TITLES = { generated: "AI-generated faces", swapped: "Swapped or reenacted faces" };

/** "Likely manipulated from 96%; inconclusive from 50% to 96%; no sign of manipulation below 50%." */
export function bandsLine(card, texts = null) {
  const t = texts || thresholdTexts(card);
  if (!t.fake) return "";
  if (!t.real) {
    return `${BANDS.fake.title} from ${t.fake}; ${BANDS.real.short} below it. This model has no ` +
      "inconclusive band: a score just under the line reads as no sign.";
  }
  return `${BANDS.fake.title} from ${t.fake}; inconclusive from ${t.real} to ${t.fake}; ` +
    `${BANDS.real.short} below ${t.real}.`;
}

/** The reader's lines: [title, text] pairs, each only where the card measured it. */
export function readerLines(card) {
  const lines = [];
  const bands = bandsLine(card);
  if (bands) lines.push(["Verdicts", bands]);
  const rates = catchRates(card);
  const kinds = [...new Set(rates.map((r) => r.kind))].sort((a, b) => String(a).localeCompare(String(b)));
  for (const kind of kinds) {
    const title = KIND_TITLES[kind] || "Other fakes";
    lines.push([title, `catches ${catchList(rates.filter((r) => r.kind === kind))}.`]);
  }
  const alarms = falseAlarmRate(card);
  if (alarms) lines.push(["Real faces", `calls ${rate(alarms.rate)} of them likely manipulated.`]);
  const totals = bandTotals(card);
  if (totals) {
    const shares = (row) => `${rate(row.real)} no sign, ${rate(row.inconclusive)} inconclusive, ` +
      `${rate(row.fake)} likely manipulated`;
    lines.push(["In the bands", `real faces: ${shares(totals.real)}; fakes: ${shares(totals.fake)}.`]);
  }
  return lines;
}
