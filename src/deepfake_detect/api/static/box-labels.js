// Where each face's label goes on the evidence picture. Faces in a group photo or a mosaic sit
// close together, and on a phone the picture is small: labels drawn naively above each box cover
// each other ("Face 2: 34%" hiding "Face 1: 44%") or another face. Each label tries, in turn, above
// its box, below it and inside its top edge, in full ("Face 2: 34%") and then short ("2: 34%"), and
// takes the first place that covers neither a label already placed nor another face; failing that,
// the first that covers no label. Only when none is free does it overlap.
//
// Pure geometry, in canvas pixels, so the page and its tests share it.

/**
 * @typedef {{ box: number[], full: number, short: number }} Wanted
 *   box: [x, y, w, h] of the face; full and short: the two texts' widths, padding included.
 * @typedef {{ x: number, y: number, width: number, short: boolean }} Placed
 */

/** @returns {Placed[]} one place per label, in the order given. A place that covers neither a
 * label already placed nor another face's box comes first; then one that covers no label. */
export function placeLabels(wanted, canvasWidth, canvasHeight, height) {
  const placed = [];
  wanted.forEach((label, i) => {
    const spots = candidates(label, canvasWidth, canvasHeight, height);
    const freeOfLabels = (spot) => !placed.some((other) => overlaps(spot, other, height));
    const freeOfFaces = (spot) => !wanted.some((other, j) => j !== i && covers(spot, other.box, height));
    const choice = spots.find((spot) => freeOfLabels(spot) && freeOfFaces(spot)) || spots.find(freeOfLabels);
    placed.push(choice || spots[0]);
  });
  return placed;
}

/** Whether a label spot lies over a face's box [x, y, w, h]. */
function covers(spot, box, height) {
  const [x, y, w, h] = box;
  return spot.x < x + w && x < spot.x + spot.width && spot.y < y + h && y < spot.y + height;
}

function candidates(label, canvasWidth, canvasHeight, height) {
  const [x, y, w, h] = label.box;
  const rows = [y - height, y + h, y]; // above, below, inside the top edge
  const spots = [];
  for (const short of [false, true]) {
    const width = short ? label.short : label.full;
    const left = Math.max(0, Math.min(x, canvasWidth - width));
    for (const top of rows) {
      if (top < 0 || top + height > canvasHeight) continue;
      spots.push({ x: left, y: top, width, short });
    }
  }
  // A picture shorter than a label: pin it to the top, in full.
  if (!spots.length) spots.push({ x: Math.max(0, Math.min(x, canvasWidth - label.full)), y: 0,
    width: label.full, short: false });
  return spots;
}

function overlaps(a, b, height) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + height && b.y < a.y + height;
}
