// Deepfake check: the web page of the local service and of the cloud API (one page, two back ends).
// ES modules loaded by the browser, no build step, no inline handlers (works under a strict
// Content-Security-Policy). This module wires the page together and starts it.
//
// Local mode:  POST v1/detect (multipart) -> 200 finished result (images) or 202 queued (videos).
// Cloud mode:  POST v1/uploads -> presigned POST {url, fields, result_id}; the file goes straight to
//              the bucket; the scan runs elsewhere and the page polls v1/results/{result_id}.
import { $, getJson } from "./client.js";
import { drawOverlay, showResult, view } from "./evidence.js";
import { loadHistory } from "./history.js";
import { loadModelCard } from "./model.js";
import { announce, loadHealth, service } from "./service.js";
import { renderTimeline } from "./timeline.js";
import { enqueue } from "./uploads.js";

// ---------------------------------------------------------------- wiring
function wireUploads() {
  const input = $("file-input");
  input.addEventListener("change", () => {
    enqueue(input.files);
    input.value = ""; // choosing the same file again must start a new check
  });
  const zone = $("dropzone");
  let depth = 0;
  const hasFiles = (event) => Array.from(event.dataTransfer ? event.dataTransfer.types : []).includes("Files");
  // Dropping anywhere on the page uploads, instead of the browser navigating away to the file.
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    zone.classList.add("dragging");
  });
  document.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    enqueue(event.dataTransfer.files);
  });
}

function wireResultView() {
  const image = $("evidence-image");
  image.addEventListener("load", drawOverlay);
  image.addEventListener("error", () => {
    $("evidence").hidden = true;
    $("evidence-controls").hidden = true;
  });
  $("heatmap-toggle").addEventListener("change", (event) => {
    view.heatmap = event.target.checked;
    drawOverlay();
    announce(view.heatmap ? "Heat map shown." : "Heat map hidden.");
  });
  // The overlay is drawn at the image's displayed size (sharp on every screen): redraw on resize.
  new ResizeObserver(() => drawOverlay()).observe(image);
  let timelineWidth = 0;
  new ResizeObserver(() => {
    const width = $("timeline").clientWidth;
    if (view.result && width && Math.abs(width - timelineWidth) > 8) {
      timelineWidth = width;
      renderTimeline(view.result);
    }
  }).observe($("timeline"));
}

function wireHistory() {
  $("history-more").addEventListener("click", () => loadHistory(false));
  $("history-refresh").addEventListener("click", () => loadHistory(true));
}

async function openFromAddress() {
  const match = /^#result\/([^/]+)$/.exec(location.hash);
  if (!match) return;
  try {
    const result = await getJson(`v1/results/${match[1]}`);
    showResult(result, { focus: false, pinned: true });
  } catch (error) {
    announce(error.message);
  }
}

async function start() {
  wireUploads();
  wireResultView();
  wireHistory();
  window.addEventListener("hashchange", openFromAddress); // back/forward, pasted links
  await loadHealth();
  document.body.dataset.mode = service.mode;
  await Promise.all([loadModelCard(), loadHistory(true), openFromAddress()]);
  document.body.dataset.ready = "true"; // tests wait for this
}

start();
