// Deepfake check: the web page of the local service and of the cloud API (one page, two back ends).
// ES modules loaded by the browser, no build step, no inline handlers (works under a strict
// Content-Security-Policy). This module wires the page together and starts it.
//
// Local mode:  POST v1/detect (multipart) -> 200 finished result (images) or 202 queued (videos).
// Cloud mode:  POST v1/uploads -> presigned POST {url, fields, result_id}; the file goes straight to
//              the bucket; the scan runs elsewhere and the page polls v1/results/{result_id}.
import { resultIdFromAddress } from "./address.js";
import { $, getJson } from "./client.js";
import { drawOverlay, hideResult, pictureFailed, showResult, shownFrameIndex, view, wireFramePicker } from "./evidence.js";
import { loadHistory, searchHistory } from "./history.js";
import { loadModelCard } from "./model.js";
import { wireReport } from "./report.js";
import { wireReview } from "./review.js";
import { announce, loadHealth, service } from "./service.js";
import { loadStats, scheduleStatsRefresh } from "./stats.js";
import { renderTimeline } from "./timeline.js";
import { enqueue } from "./uploads.js";
import { wireZoom } from "./zoom.js";

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
  image.addEventListener("error", pictureFailed);
  wireFramePicker();
  wireZoom();
  $("heatmap-toggle").addEventListener("change", (event) => {
    view.heatmap = event.target.checked;
    $("heatmap-help").hidden = !view.heatmap; // its colour scale
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
      renderTimeline(view.result, shownFrameIndex(view.result));
    }
  }).observe($("timeline"));
}

function wireHistory() {
  // The server searches every result, not only the pages loaded (typing waits for a pause).
  $("history-search").addEventListener("input", () => searchHistory({ wait: 300 }));
  for (const id of ["history-verdict", "history-since", "history-until"]) {
    $(id).addEventListener("change", () => searchHistory());
  }
  $("history-more").addEventListener("click", () => loadHistory(false));
  $("history-refresh").addEventListener("click", () => {
    loadHistory(true);
    loadStats(); // someone else (another tab, the CLI, another reviewer) may have changed it too
  });
  // Finished checks (uploads.js) and labels given (review.js) change the accuracy report.
  document.addEventListener("deepfake:results-changed", scheduleStatsRefresh);
}

// The result the address names: on a fresh load (a shared link), and on back/forward. Chromium
// tells of one step back twice (popstate, then hashchange): the second finds it already opening.
const opening = { id: undefined, seq: 0 }; // id: the result being fetched (undefined: none)
async function openFromAddress() {
  const id = resultIdFromAddress();
  const notice = $("address-notice");
  if (id === opening.id) return;
  const seq = ++opening.seq;
  opening.id = id;
  notice.hidden = true;
  try {
    if (!id) {
      hideResult();
      return;
    }
    if (view.result && view.result.id === id) return;
    let result;
    try {
      result = await getJson(`v1/results/${encodeURIComponent(id)}`);
    } catch (error) {
      if (seq !== opening.seq) return;
      notice.textContent = `The result in this link could not be opened. ${error.message}`;
      notice.hidden = false;
      announce(notice.textContent);
      return;
    }
    if (seq !== opening.seq) return; // the address moved on while this one loaded
    showResult(result, { focus: false, fromAddress: true });
    announce(`Showing ${result.path}.`);
  } finally {
    if (seq === opening.seq) opening.id = undefined;
  }
}

async function start() {
  wireUploads();
  wireResultView();
  wireHistory();
  wireReview();
  wireReport(() => view.result);
  window.addEventListener("popstate", openFromAddress); // back/forward
  window.addEventListener("hashchange", openFromAddress); // an address typed or pasted
  await loadHealth();
  document.body.dataset.mode = service.mode;
  await Promise.all([loadModelCard(), loadHistory(true), openFromAddress(), loadStats()]);
  document.body.dataset.ready = "true"; // tests wait for this
}

start();
