// The verdict in plain words, as the server decided it: the band's name, the number called what it
// is (a manipulation score), one line on what the band means by the card's thresholds, and, next to
// "no sign of manipulation", how much of each kind of fake the model catches.
import { BANDS, bandClass, bandRule, isBand, scoreName, scoreTexts } from "./bands.js";
import { bandSentence, cardMatches, catchSentence } from "./card-facts.js";
import { percent } from "./client.js";
import { service } from "./service.js";
import { ERROR_WORDS } from "./words.js";

// ---------------------------------------------------------------- verdict words
const hasScore = (result) => typeof result.score === "number";

/** What the classifier alone said, in a few words (for a verdict its file's metadata decided). */
export function classifierWords(result) {
  const score = hasScore(result) ? ` (${scoreName(result.score, result)})` : "";
  switch (result.classifier_verdict) {
    case "fake": return `the model alone also calls it likely manipulated${score}`;
    case "inconclusive": return `the model alone finds it inconclusive${score}`;
    case "real": return `the model alone sees no sign of manipulation${score}`;
    case "no_face": return "the model found no face to score";
    default: return hasScore(result) ? `the model gives it a ${scoreName(result.score, result)}` : "";
  }
}

/** What kind of manipulation the evidence points to, in the words every surface uses. */
export const KIND_WORDS = { generated: "looks AI-generated", swapped: "looks face-swapped" };
export const kindWords = (result) => (result.verdict === "fake" && KIND_WORDS[result.evidence_kind]) || "";

/** The verdict was decided by the file's own metadata, not by the classifier. */
export const declared = (result) => result.verdict === "fake" && Boolean(result.verdict_reason);

/** The band's headline: "Likely manipulated (looks face-swapped)", "Inconclusive — look closer". */
export function bandTitle(result) {
  const kind = kindWords(result);
  return `${BANDS[result.verdict].title}${kind ? ` (${kind})` : ""}`;
}

/** The upload list's one line. */
export function summary(result) {
  if (declared(result)) return `AI-generated, by its own metadata; ${classifierWords(result)}`;
  if (isBand(result.verdict)) {
    const kind = kindWords(result);
    return `${BANDS[result.verdict].short}${kind ? `, ${kind}` : ""}` +
      (hasScore(result) ? ` (${scoreName(result.score, result)})` : "");
  }
  switch (result.verdict) {
    case "no_face": return "no face found";
    case "error": return `could not be checked: ${ERROR_WORDS[result.error && result.error.code]
      || "processing failed"}`;
    default: return result.status === "failed" ? "processing failed" : "still being checked";
  }
}

/** What the band means here, with the record's thresholds at the score's precision. */
function bandMeaning(result, kind) {
  const rule = bandRule(scoreTexts(result.score, result), "The model");
  const what = `The score is the model's estimate that the most suspicious face in this ${kind} was ` +
    `manipulated.${rule ? ` ${rule}` : ""}`;
  switch (result.verdict) {
    case "fake":
      return what + (kindWords(result) ? ` The evidence ${kindWords(result).replace("looks", "looks most")}.` : "");
    case "inconclusive":
      return `${what} This score lies in between: the model cannot tell. Look closer at the faces, ` +
        "the heat map and the content credentials.";
    default:
      return what;
  }
}

/** The verdict box: {cls, title, score, detail, caveat} (score and caveat may be ""). */
export function verdictWords(result) {
  const kind = result.media_kind === "video" ? "video" : "photo";
  if (declared(result)) {
    const said = classifierWords(result);
    return {
      cls: "fake",
      title: "AI-generated, by its own metadata",
      score: hasScore(result) ? `Model's ${scoreName(result.score, result)}` : "",
      detail: `This ${kind} declares that it was made by a generative model: ${result.verdict_reason}. ` +
        "A file's own declaration decides the verdict" + (said ? `; ${said}.` : ".") +
        " See Content credentials below.",
      caveat: "",
    };
  }
  if (isBand(result.verdict)) {
    const card = service.card;
    const matches = cardMatches(card, result);
    // Next to "no sign", first what it misses; then how the band's test faces split.
    const caveat = matches ? [
      result.verdict === "real" ? catchSentence(card) : "",
      bandSentence(card, result.verdict),
    ].filter(Boolean).join(" ") : "";
    return {
      cls: bandClass(result.verdict),
      title: bandTitle(result),
      score: hasScore(result) ? `Manipulation score ${scoreTexts(result.score, result).score}` : "",
      detail: hasScore(result) ? bandMeaning(result, kind) : "",
      caveat,
    };
  }
  switch (result.verdict) {
    case "no_face":
      return {
        cls: "other",
        title: "No face found",
        score: "",
        detail: `The model only judges faces, and it found none in this ${kind}, so there is ` +
          "nothing to score. Try a picture where a face is clearly visible.",
        caveat: "",
      };
    case "error": {
      const info = result.error || {};
      return {
        cls: "error",
        title: "Could not check this file",
        score: "",
        detail: (ERROR_WORDS[info.code] || "Processing failed.") + (info.message ? ` (${info.message})` : ""),
        caveat: "",
      };
    }
    default:
      return {
        cls: "other",
        title: "Still being checked…",
        score: "",
        detail: typeof result.progress === "number" ? `${percent(result.progress)} done.`
          : "Waiting for its turn.",
        caveat: "",
      };
  }
}
