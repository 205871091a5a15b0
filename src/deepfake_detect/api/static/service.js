// Announcements for screen readers, and what the service says about itself (mode, limits).
import { $, el, formatBytes, getJson } from "./client.js";

// ---------------------------------------------------------------- announcements (screen readers)
// Each message is added as a new line, so messages that come close together (a batch of
// uploads finishing) are all read; only the last few are kept.
export const ANNOUNCEMENTS_KEPT = 4;
export function announce(message) {
  const region = $("status");
  region.append(el("p", { text: message }));
  while (region.children.length > ANNOUNCEMENTS_KEPT) region.firstElementChild.remove();
}

// ---------------------------------------------------------------- service info
export const service = { mode: "local", maxUploadBytes: null, inputSize: null, card: null };

export async function loadHealth() {
  try {
    const health = await getJson("health");
    service.mode = health.mode === "cloud" ? "cloud" : "local";
    if (typeof health.max_upload_bytes === "number") service.maxUploadBytes = health.max_upload_bytes;
  } catch {
    // The page still works: uploads will report their own errors.
  }
  const mode = $("mode");
  mode.textContent = service.mode === "cloud" ? "Cloud service" : "Running on this computer";
  mode.hidden = false;
  if (service.maxUploadBytes) $("size-limit").textContent = `Up to ${formatBytes(service.maxUploadBytes)} each.`;
}
