// PDQ of a video frame's luma, computed where PDQ reads it: PDQ filters the whole plane
// (two passes of box filters along rows and columns, Jarosz's tent) and then keeps only
// the 64 x 64 pixels nearest the cells' centres (pdq.js pdqOfLuma). The filters are
// linear and separable, so the kept pixels are computed alone: each row's prefix sums
// give the row filters at the 64 kept columns, and each kept column's prefix sums the
// column filters at the 64 kept rows. About a quarter of the work of filtering every
// pixel at 720p. The sums are float64 prefix sums, not the reference's float32 running
// sums: the kept values differ in their last float32 bits, which moves a PDQ bit only
// where a coefficient lies within that of the median (none in the frames tested; the
// page's frames are compared with the server's in tests/browser/test_portal_video.py).
//
// Nothing is written anywhere and nothing leaves the device.

import { pdqOfBlock } from "./pdq.js";

const SIDE = 64;

function windowSize(oldSide, newSide) {
  return Math.floor((oldSide + 2 * newSide - 1) / (2 * newSide));
}

/** Positions kept by PDQ's decimation of `n` pixels to 64. */
function kept(n) {
  const out = new Int32Array(SIDE);
  for (let i = 0; i < SIDE; i++) out[i] = Math.trunc(((i + 0.5) * n) / SIDE);
  return out;
}

/**
 * The box filter of pdq.js (a window of `win` around each position, shrinking at the
 * ends) applied twice to a line whose prefix sums are `prefix` (length n + 1), at the
 * positions `at`: out[k] for each position.
 */
function twiceAt(prefix, n, win, at, out, outStride, outOffset) {
  const half = Math.floor((win + 2) / 2);
  const before = win - half; // the window of position i is [i - before, i + half - 1]
  const after = half - 1;
  for (let k = 0; k < at.length; k++) {
    const i = at[k];
    const lo = Math.max(0, i - before);
    const hi = Math.min(n - 1, i + after);
    let sum = 0;
    for (let j = lo; j <= hi; j++) {
      const a = Math.max(0, j - before);
      const b = Math.min(n - 1, j + after);
      sum += (prefix[b + 1] - prefix[a]) / (b - a + 1);
    }
    out[outOffset + k * outStride] = sum / (hi - lo + 1);
  }
}

/** { hash, quality } of a float32/float64 luma plane, rows x cols (not modified). */
export function pdqOfFrameLuma(luma, rows, cols) {
  if (rows < 5 || cols < 5) return { hash: "0".repeat(64), quality: 0 };
  const alongRows = windowSize(cols, SIDE);
  const alongCols = windowSize(rows, SIDE);
  const keptCols = kept(cols);
  const keptRows = kept(rows);
  // rows that the column filters at the kept rows read (two windows around each)
  const reach = 2 * alongCols;
  const needed = new Uint8Array(rows);
  for (const r of keptRows) {
    for (let y = Math.max(0, r - reach); y <= Math.min(rows - 1, r + reach); y++) needed[y] = 1;
  }
  // the row filters at the kept columns, for every needed row: rows x 64
  const across = new Float64Array(rows * SIDE);
  const prefix = new Float64Array(Math.max(rows, cols) + 1);
  for (let y = 0; y < rows; y++) {
    if (!needed[y]) continue;
    const from = y * cols;
    let run = 0;
    for (let x = 0; x < cols; x++) {
      run += luma[from + x];
      prefix[x + 1] = run;
    }
    twiceAt(prefix, cols, alongRows, keptCols, across, 1, y * SIDE);
  }
  // the column filters at the kept rows, for each kept column
  const block = new Float32Array(SIDE * SIDE);
  for (let c = 0; c < SIDE; c++) {
    let run = 0;
    for (let y = 0; y < rows; y++) {
      run += across[y * SIDE + c];
      prefix[y + 1] = run;
    }
    twiceAt(prefix, rows, alongCols, keptRows, block, SIDE, c);
  }
  return pdqOfBlock(block);
}
