// Zoom on the evidence picture: the picture on the stage (the photo, the video's most suspicious
// frame or any other sampled frame) in a modal dialog, larger, scrolled inside it; the boxes and
// labels are drawn again at the zoomed size by the stage's own drawing (evidence.paintOverlay), so
// they stay on their faces. Opened by the "Zoom the picture" button (keyboard) or a click or tap on
// the picture; Escape, Close or a click on the zoomed picture closes it and focus goes back.
import { $, el } from "./client.js";
import { frameWords, paintOverlay, stagePicture, view } from "./evidence.js";
import { announce } from "./service.js";

// Sizes, in times the picture's width on the page.
export const ZOOM_LEVELS = [1, 1.5, 2, 3, 4];
const START_LEVEL = 2;

const zoom = { level: START_LEVEL, picture: null, base: 0, opener: null, at: [0.5, 0.5] };

function paint() {
  const stage = $("zoom-stage");
  const result = view.result;
  if (!result || !zoom.picture || !$("zoom-dialog").open) return;
  if (paintOverlay($("zoom-image"), $("zoom-overlay"), result, zoom.picture)) {
    stage.dataset.boxes = String(zoom.picture.faces.length);
    stage.dataset.drawn = String(zoom.picture.frameIndex ?? "");
    stage.dataset.level = String(ZOOM_LEVELS[zoom.level]);
  }
}

/** Size the zoomed picture for the current level and scroll so that `at` (fractions of its width
 * and height) stays in the middle of the view. */
function layout(at) {
  const scroller = $("zoom-scroll");
  const stage = $("zoom-stage");
  const factor = ZOOM_LEVELS[zoom.level];
  stage.style.width = `${Math.round(zoom.base * factor)}px`;
  $("zoom-level").replaceChildren(`${factor}×`,
    el("span", { class: "visually-hidden", text: " the size on the page" }));
  $("zoom-in").disabled = zoom.level >= ZOOM_LEVELS.length - 1;
  $("zoom-out").disabled = zoom.level <= 0;
  delete stage.dataset.drawn;
  paint();
  const [fx, fy] = at;
  scroller.scrollLeft = Math.max(0, fx * stage.offsetWidth - scroller.clientWidth / 2);
  scroller.scrollTop = Math.max(0, fy * stage.offsetHeight - scroller.clientHeight / 2);
}

/** The point of the zoomed picture now in the middle of the view, as fractions. */
function centre() {
  const scroller = $("zoom-scroll");
  const stage = $("zoom-stage");
  if (!stage.offsetWidth || !stage.offsetHeight) return [0.5, 0.5];
  const fx = (scroller.scrollLeft + Math.min(scroller.clientWidth, stage.offsetWidth) / 2) / stage.offsetWidth;
  const fy = (scroller.scrollTop + Math.min(scroller.clientHeight, stage.offsetHeight) / 2) / stage.offsetHeight;
  return [Math.min(1, fx), Math.min(1, fy)];
}

export function setZoomLevel(level) {
  const next = Math.max(0, Math.min(ZOOM_LEVELS.length - 1, level));
  if (next === zoom.level) return;
  const at = centre();
  zoom.level = next;
  layout(at);
}

/** Open the zoom on the picture now on the stage; `at`: the point to centre (fractions). */
export function openZoom(at = [0.5, 0.5]) {
  const result = view.result;
  if (!result) return;
  const picture = stagePicture(result);
  const onPage = $("evidence-image");
  if (!picture.src || !onPage.clientWidth) return;
  const dialog = $("zoom-dialog");
  zoom.picture = picture;
  zoom.base = onPage.clientWidth;
  zoom.level = START_LEVEL;
  zoom.at = at;
  zoom.opener = document.activeElement;
  const image = $("zoom-image");
  image.alt = onPage.alt;
  const where = picture.kind === "frame" ? `Frame at ${frameWords(picture)}` : result.media_kind === "video"
    ? "Most suspicious frame" : "Photo";
  // The dialog's name starts "Zoomed:"; on screen the name of the picture is enough.
  $("zoom-title").replaceChildren(el("span", { class: "visually-hidden", text: "Zoomed: " }), where);
  delete $("zoom-stage").dataset.drawn;
  dialog.showModal();
  $("zoom-scroll").focus();
  if (image.getAttribute("src") !== picture.src) image.src = picture.src; // `load` lays it out
  else layout(at);
  announce("Picture zoomed. Escape closes.");
}

export function closeZoom() {
  const dialog = $("zoom-dialog");
  if (dialog.open) dialog.close();
}

export function wireZoom() {
  const dialog = $("zoom-dialog");
  const image = $("zoom-image");
  $("evidence-zoom").addEventListener("click", () => openZoom());
  // A click or tap on the picture zooms there.
  $("evidence-image").addEventListener("click", (event) => {
    const box = event.currentTarget.getBoundingClientRect();
    if (!box.width || !box.height) return;
    openZoom([(event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height]);
  });
  image.addEventListener("load", () => {
    if (dialog.open) layout(zoom.at);
  });
  new ResizeObserver(() => paint()).observe(image);
  $("zoom-in").addEventListener("click", () => setZoomLevel(zoom.level + 1));
  $("zoom-out").addEventListener("click", () => setZoomLevel(zoom.level - 1));
  $("zoom-close").addEventListener("click", closeZoom);
  image.addEventListener("click", closeZoom);
  dialog.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "+" || event.key === "=") setZoomLevel(zoom.level + 1);
    else if (event.key === "-") setZoomLevel(zoom.level - 1);
    else return;
    event.preventDefault();
  });
  // Escape (the dialog's own cancel), Close and a click on the picture end here.
  dialog.addEventListener("close", () => {
    const opener = zoom.opener;
    zoom.opener = null;
    const back = opener && opener.isConnected && opener !== document.body ? opener : $("evidence-zoom");
    if (back && !back.hidden) back.focus();
  });
}
