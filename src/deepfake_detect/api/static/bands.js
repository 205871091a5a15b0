// The verdict bands (fake: likely manipulated, inconclusive, real: no sign of manipulation) in the
// words and colours every part of the page uses, and scores as text that never contradicts them.
// The server decides every verdict; the thresholds are only quoted.

/** Each band's words: the headline, the short form (history, face cards), and its CSS class. */
export const BANDS = {
  fake: { cls: "fake", title: "Likely manipulated", short: "likely manipulated" },
  inconclusive: { cls: "inconclusive", title: "Inconclusive — look closer", short: "inconclusive" },
  real: { cls: "real", title: "No sign of manipulation", short: "no sign of manipulation" },
};

// Box and label colours on the evidence picture, per band (labels: text on the box's colour).
export const BOX_COLOURS = {
  fake: { box: "#e53935", text: "#ffffff" },
  inconclusive: { box: "#f5a300", text: "#1b1e23" },
  real: { box: "#2e9d46", text: "#ffffff" },
};

export const isBand = (verdict) => Object.prototype.hasOwnProperty.call(BANDS, verdict);
export const bandClass = (verdict) => (isBand(verdict) ? BANDS[verdict].cls : "other");

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);

/** A face's (or track's) band: its own verdict, or for records older than per-face verdicts, its
 * score against the record's thresholds (as the server's band() does). */
export function bandOf(item, result) {
  if (item && isBand(item.verdict)) return item.verdict;
  const score = item && item.score;
  if (!isNumber(score) || !result || !isNumber(result.threshold)) return null;
  if (score >= result.threshold) return "fake";
  const real = result.threshold_real;
  return isNumber(real) && score >= Math.min(real, result.threshold) ? "inconclusive" : "real";
}

/** The record's two thresholds (t_real null on records and cards older than the bands). */
export function thresholdsOf(result) {
  return {
    fake: result && isNumber(result.threshold) ? result.threshold : null,
    real: result && isNumber(result.threshold_real) ? result.threshold_real : null,
  };
}

/** A share as a percentage with up to `digits` decimals (no trailing zeros: "50%", not "50.0%"); a
 * value below 1 never reads 100% (it keeps a decimal there, and at most 99.9%). */
export function formatPercent(p, digits = 0) {
  let text = (p * 100).toFixed(digits);
  if (p < 1 && Number(text) >= 100) {
    text = (p * 100).toFixed(Math.max(1, digits));
    if (Number(text) >= 100) text = "99.9";
  }
  return `${Number(text)}%`;
}

/** The fewest decimals (0 to 3) at which `score` reads differently from each threshold it is
 * compared with (0.9583 against 0.9554: "95.8%" and "95.5%", never "96%" and "96%"). */
export function digitsFor(score, thresholds) {
  const others = thresholds.filter((t) => isNumber(t) && t !== score);
  if (!isNumber(score)) return 0;
  for (let digits = 0; digits < 3; digits += 1) {
    if (others.every((t) => formatPercent(score, digits) !== formatPercent(t, digits))) return digits;
  }
  return 3;
}

/** Every score a record shows (the file's, each face's, each track's, each frame's). */
function scoresOf(result) {
  const scores = [result.score];
  for (const face of result.faces || []) scores.push(face.score);
  for (const track of result.tracks || []) scores.push(track.score);
  for (const frame of result.frames || []) scores.push(...Object.values(frame.scores || {}));
  return scores.filter(isNumber);
}

const thresholdDigitsOf = new WeakMap(); // result -> decimals of its thresholds

/** The decimals a record's thresholds are shown with wherever it is on screen: as many as its most
 * demanding score needs (a score is shown with no more than that, so it never reads as on the
 * wrong side of a threshold), and enough to tell the two thresholds apart. */
export function thresholdDigits(result) {
  if (!result || typeof result !== "object") return 0;
  if (thresholdDigitsOf.has(result)) return thresholdDigitsOf.get(result);
  const t = thresholdsOf(result);
  const limits = [t.fake, t.real];
  let digits = t.fake !== null && t.real !== null ? digitsFor(t.fake, [t.real]) : 0;
  for (const score of scoresOf(result)) digits = Math.max(digits, digitsFor(score, limits));
  thresholdDigitsOf.set(result, digits);
  return digits;
}

/** A score at the precision that keeps it apart from its record's thresholds, and those thresholds
 * at the record's precision ({score, fake, real}; "" for what is missing). */
export function scoreTexts(score, result) {
  const t = thresholdsOf(result);
  const digits = isNumber(score) ? digitsFor(score, [t.fake, t.real]) : 0;
  const limits = Math.max(digits, thresholdDigits(result));
  return {
    score: isNumber(score) ? formatPercent(score, digits) : "",
    fake: t.fake === null ? "" : formatPercent(t.fake, limits),
    real: t.real === null ? "" : formatPercent(t.real, limits),
  };
}

/** "62%": a score, at the precision its record's thresholds ask for. */
export const scorePercent = (score, result) => scoreTexts(score, result).score;

/** "manipulation score 62%". */
export const scoreName = (score, result) => `manipulation score ${scorePercent(score, result)}`;

/** The thresholds alone (the model panel): as precise as keeps them apart. */
export function thresholdTexts(card) {
  const t = thresholdsOf(card);
  const digits = t.fake !== null && t.real !== null ? digitsFor(t.fake, [t.real]) : 0;
  return {
    fake: t.fake === null ? "" : formatPercent(t.fake, digits),
    real: t.real === null ? "" : formatPercent(t.real, digits),
  };
}

/** One sentence on what the bands are, from the thresholds as text ({fake, real}). */
export function bandRule(texts, subject = "It") {
  if (!texts.fake) return "";
  if (!texts.real) {
    return `${subject} calls a score from ${texts.fake} likely manipulated and any lower score no sign of ` +
      "manipulation (this model has no inconclusive band).";
  }
  return `${subject} calls a score from ${texts.fake} likely manipulated, one below ${texts.real} no sign of ` +
    `manipulation, and one in between inconclusive.`;
}
