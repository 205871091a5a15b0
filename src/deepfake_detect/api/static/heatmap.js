// Heat maps: the classifier's class-activation grid (values in [0, 1] over the aligned face crop)
// as colours, drawn over the picture on screen (placed by the face's crop_to_image) or over the
// crop itself (the face cards). The server scales each face's grid to its own range
// (core/classifier.py _normalise_cams): every map has red somewhere, whatever the face's score, so
// the page says so next to the colour scale (app.css --heat-scale draws HEAT_STOPS).
import { service } from "./service.js";

// Blue -> cyan -> green -> yellow -> red.
export const HEAT_STOPS = [[0, [40, 60, 220]], [0.35, [0, 200, 230]], [0.55, [40, 200, 60]],
  [0.75, [250, 220, 0]], [1, [230, 30, 20]]];
export function heatColour(v) {
  for (let i = 1; i < HEAT_STOPS.length; i += 1) {
    const [t1, c1] = HEAT_STOPS[i];
    if (v <= t1) {
      const [t0, c0] = HEAT_STOPS[i - 1];
      const f = (v - t0) / (t1 - t0);
      return c0.map((x, j) => Math.round(x + f * (c1[j] - x)));
    }
  }
  return HEAT_STOPS[HEAT_STOPS.length - 1][1];
}

/** The grid as a small canvas, one pixel a cell; cold cells stay (nearly) clear. */
export function heatTile(grid) {
  const rows = grid.length;
  const cols = grid[0].length;
  const tile = document.createElement("canvas");
  tile.width = cols;
  tile.height = rows;
  const tctx = tile.getContext("2d");
  const pixels = tctx.createImageData(cols, rows);
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < cols; c += 1) {
      const v = Math.max(0, Math.min(1, grid[r][c]));
      const [red, green, blue] = heatColour(v);
      const k = (r * cols + c) * 4;
      pixels.data[k] = red;
      pixels.data[k + 1] = green;
      pixels.data[k + 2] = blue;
      pixels.data[k + 3] = Math.round(255 * 0.65 * Math.pow(v, 0.8)); // cold areas stay clear
    }
  }
  tctx.putImageData(pixels, 0, 0);
  return tile;
}

export const hasHeatmap = (face) => Boolean(face && face.heatmap && face.heatmap.length && face.heatmap[0].length);

/** Paint a face's grid over the picture on screen: `s` is canvas pixels per original pixel, and
 * crop_to_image maps the aligned crop (input_size pixels square) into original pixels. */
export function drawHeatmap(ctx, face, s) {
  const m = face.crop_to_image;
  if (!hasHeatmap(face) || !m) return;
  const tile = heatTile(face.heatmap);
  // The grid covers the whole aligned crop, which is input_size pixels square.
  const cropSize = service.inputSize || tile.width;
  // Canvas order (a, b, c, d, e, f) maps (x, y) to (a x + c y + e, b x + d y + f).
  ctx.save();
  ctx.setTransform(s * m[0][0], s * m[1][0], s * m[0][1], s * m[1][1], s * m[0][2], s * m[1][2]);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(tile, 0, 0, cropSize, cropSize);
  ctx.restore();
}

/** The aligned crop with its grid stretched over the whole of it, on `canvas` (at the crop's size). */
export function drawCropHeatmap(canvas, image, face) {
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(heatTile(face.heatmap), 0, 0, canvas.width, canvas.height);
}
