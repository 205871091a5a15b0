// The verdict in plain words, as the server decided it.
import { $, percent } from "./client.js";
import { ERROR_WORDS } from "./words.js";

// ---------------------------------------------------------------- verdict words
/** What the classifier alone said, in a few words (for a verdict its file's metadata decided). */
export function classifierWords(result) {
  switch (result.classifier_verdict) {
    case "fake": return `the model alone also calls it manipulated (${percent(result.score)} probability)`;
    case "real": return `the model alone sees no sign of manipulation (${percent(result.score)} probability)`;
    case "no_face": return "the model found no face to score";
    default: return typeof result.score === "number"
      ? `the model gives a ${percent(result.score)} probability of manipulation` : "";
  }
}

/** What kind of manipulation the evidence points to, in the words every surface uses. */
export const KIND_WORDS = { generated: "looks AI-generated", swapped: "looks face-swapped" };
export const kindWords = (result) => KIND_WORDS[result.evidence_kind] || "";

/** The verdict was decided by the file's own metadata, not by the classifier. */
export const declared = (result) => result.verdict === "fake" && Boolean(result.verdict_reason);

export function summary(result) {
  if (declared(result)) return `AI-generated, by its own metadata; ${classifierWords(result)}`;
  switch (result.verdict) {
    case "fake": return `likely manipulated${kindWords(result) ? `, ${kindWords(result)}` : ""} ` +
      `(${percent(result.score)} probability)`;
    case "real": return `no sign of manipulation (${percent(result.score)} probability of manipulation)`;
    case "no_face": return "no face found";
    case "error": return `could not be checked: ${ERROR_WORDS[result.error && result.error.code]
      || "processing failed"}`;
    default: return result.status === "failed" ? "processing failed" : "still being checked";
  }
}

export function verdictWords(result) {
  // The server decides every verdict; the threshold is only quoted.
  const threshold = result.threshold;
  const kind = result.media_kind === "video" ? "video" : "photo";
  if (declared(result)) {
    const said = classifierWords(result);
    return {
      cls: "fake",
      title: "AI-generated, by its own metadata",
      detail: `This ${kind} declares that it was made by a generative model: ${result.verdict_reason}. ` +
        "A file's own declaration decides the verdict" + (said ? `; ${said}.` : ".") +
        " See Content credentials below.",
    };
  }
  switch (result.verdict) {
    case "fake":
      return {
        cls: "fake",
        title: `Likely manipulated${kindWords(result) ? ` (${kindWords(result)})` : ""}: ${percent(result.score)}`,
        detail: `The model gives a ${percent(result.score)} probability that a face in this ${kind} ` +
          `was manipulated. It calls a file manipulated from ${percent(threshold)}.` +
          (kindWords(result) ? ` The evidence ${kindWords(result).replace("looks", "looks most")}.` : ""),
      };
    case "real":
      return {
        cls: "real",
        title: `No sign of manipulation: ${percent(result.score)}`,
        detail: `The model gives a ${percent(result.score)} probability that a face in this ${kind} ` +
          `was manipulated, below its ${percent(threshold)} threshold.`,
      };
    case "no_face":
      return {
        cls: "other",
        title: "No face found",
        detail: `The model only judges faces, and it found none in this ${kind}, so there is ` +
          "nothing to score. Try a picture where a face is clearly visible.",
      };
    case "error": {
      const info = result.error || {};
      return {
        cls: "error",
        title: "Could not check this file",
        detail: (ERROR_WORDS[info.code] || "Processing failed.") + (info.message ? ` (${info.message})` : ""),
      };
    }
    default:
      return {
        cls: "other",
        title: "Still being checked…",
        detail: typeof result.progress === "number" ? `${percent(result.progress)} done.` : "Waiting for its turn.",
      };
  }
}
