// The verdict in plain words, as the server decided it.
import { $, percent } from "./client.js";
import { ERROR_WORDS } from "./words.js";

// ---------------------------------------------------------------- verdict words
export function summary(result) {
  switch (result.verdict) {
    case "fake": return `likely manipulated (${percent(result.score)} probability)`;
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
  switch (result.verdict) {
    case "fake":
      return {
        cls: "fake",
        title: `Likely manipulated: ${percent(result.score)}`,
        detail: `The model gives a ${percent(result.score)} probability that a face in this ${kind} ` +
          `was manipulated. It calls a file manipulated from ${percent(threshold)}.`,
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
