// hashbank's own JavaScript port of PDQ (Meta's perceptual image hash), written to give
// the same 256 bits as hashbank's Python `hashes` on the same pixels (whose PDQ is a numba
// port of Meta's reference, float for float: hashes/_pdq_kernels.py, tested against the
// `pdqhash` package that wraps Meta's C++).
//
// Pipeline, as in the reference algorithm:
//   RGB -> luma (0.299 R + 0.587 G + 0.114 B)
//   -> two passes of 1-D box filters along rows then columns (Jarosz: a tent filter)
//      with a window of ceil(side / 128) pixels
//   -> decimation to 64x64 (the pixel nearest each cell centre)
//   -> quality from the 64x64 gradients
//   -> DCT coefficients 1..16 x 1..16 of the 64x64 block
//   -> bit set where a coefficient is above the median of the 256.
//
// The reference computes in 32-bit floats; so does this port: every sum is rounded to
// float32 (Math.fround, or a store into a Float32Array) at the same step as the C++, so
// that identical pixels give identical bits, not merely close ones.
//
// Also here, mirroring hashes/_variants.py and hashes/_trim.py: Pillow's `reduce(k)` box
// downscale (bit-exact) and the trimming of uniform borders; windows.js builds the
// hashes a report stores on them.

const fround = Math.fround;

// ---- luma ------------------------------------------------------------------------------

/** Luma of RGBA pixels (4 bytes each) as float32, as `pdqhash.compute` makes it. */
export function lumaOf(rgba, width, height) {
  const n = width * height;
  const luma = new Float32Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 4) {
    // float64 products and sums, rounded once to float32 (numpy's order of operations)
    luma[i] = rgba[p] * 0.299 + rgba[p + 1] * 0.587 + rgba[p + 2] * 0.114;
  }
  return luma;
}

/** A rectangle of a row-major float32 plane, copied. */
export function cropPlane(plane, width, top, left, rows, cols) {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const from = (top + r) * width + left;
    out.set(plane.subarray(from, from + cols), r * cols);
  }
  return out;
}

// ---- Jarosz box filters ------------------------------------------------------------------

function windowSize(oldSide, newSide) {
  return Math.floor((oldSide + 2 * newSide - 1) / (2 * newSide));
}

// One box filter along each row: a running float32 sum over a window centred on each
// output, shrinking at both ends (the four phases of the reference). Rows go four at a
// time with four independent sums: the same arithmetic per row, but the processor can
// overlap the four chains of dependent additions.
function boxRows(src, dst, rows, cols, win) {
  const half = Math.floor((win + 2) / 2);
  const lead = half - 1;
  const grow = win - half + 1;
  const full = cols - win;
  const tail = half - 1;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const b0 = r * cols;
    const b1 = b0 + cols;
    const b2 = b1 + cols;
    const b3 = b2 + cols;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let count = 0;
    let ri = 0;
    let li = 0;
    let oi = 0;
    for (let i = 0; i < lead; i++, ri++) {
      s0 = fround(s0 + src[b0 + ri]);
      s1 = fround(s1 + src[b1 + ri]);
      s2 = fround(s2 + src[b2 + ri]);
      s3 = fround(s3 + src[b3 + ri]);
      count++;
    }
    for (let i = 0; i < grow; i++, ri++, oi++) {
      s0 = fround(s0 + src[b0 + ri]);
      s1 = fround(s1 + src[b1 + ri]);
      s2 = fround(s2 + src[b2 + ri]);
      s3 = fround(s3 + src[b3 + ri]);
      count++;
      dst[b0 + oi] = s0 / count;
      dst[b1 + oi] = s1 / count;
      dst[b2 + oi] = s2 / count;
      dst[b3 + oi] = s3 / count;
    }
    for (let i = 0; i < full; i++, ri++, li++, oi++) {
      s0 = fround(fround(s0 + src[b0 + ri]) - src[b0 + li]);
      s1 = fround(fround(s1 + src[b1 + ri]) - src[b1 + li]);
      s2 = fround(fround(s2 + src[b2 + ri]) - src[b2 + li]);
      s3 = fround(fround(s3 + src[b3 + ri]) - src[b3 + li]);
      dst[b0 + oi] = s0 / count;
      dst[b1 + oi] = s1 / count;
      dst[b2 + oi] = s2 / count;
      dst[b3 + oi] = s3 / count;
    }
    for (let i = 0; i < tail; i++, li++, oi++) {
      count--;
      s0 = fround(s0 - src[b0 + li]);
      s1 = fround(s1 - src[b1 + li]);
      s2 = fround(s2 - src[b2 + li]);
      s3 = fround(s3 - src[b3 + li]);
      dst[b0 + oi] = s0 / count;
      dst[b1 + oi] = s1 / count;
      dst[b2 + oi] = s2 / count;
      dst[b3 + oi] = s3 / count;
    }
  }
  for (; r < rows; r++) {
    const base = r * cols;
    let ri = base;
    let li = base;
    let oi = base;
    let sum = 0;
    let count = 0;
    for (let i = 0; i < lead; i++) {
      sum = fround(sum + src[ri++]);
      count++;
    }
    for (let i = 0; i < grow; i++) {
      sum = fround(sum + src[ri++]);
      count++;
      dst[oi++] = sum / count;
    }
    for (let i = 0; i < full; i++) {
      sum = fround(fround(sum + src[ri++]) - src[li++]);
      dst[oi++] = sum / count;
    }
    for (let i = 0; i < tail; i++) {
      sum = fround(sum - src[li++]);
      count--;
      dst[oi++] = sum / count;
    }
  }
}

// The same filter along each column. Every column has the same length and window, so
// the columns advance together, one row at a time, with one float32 running sum each:
// the arithmetic per column is the reference's, the memory access is sequential.
function boxCols(src, dst, rows, cols, win) {
  const half = Math.floor((win + 2) / 2);
  const lead = half - 1;
  const grow = win - half + 1;
  const full = rows - win;
  const tail = half - 1;
  const sums = new Float32Array(cols);
  let ri = 0;
  let li = 0;
  let oi = 0;
  let count = 0;
  for (let i = 0; i < lead; i++, ri += cols) {
    for (let j = 0; j < cols; j++) sums[j] = fround(sums[j] + src[ri + j]);
    count++;
  }
  for (let i = 0; i < grow; i++, ri += cols, oi += cols) {
    count++;
    for (let j = 0; j < cols; j++) {
      const sum = fround(sums[j] + src[ri + j]);
      sums[j] = sum;
      dst[oi + j] = sum / count;
    }
  }
  for (let i = 0; i < full; i++, ri += cols, li += cols, oi += cols) {
    for (let j = 0; j < cols; j++) {
      const sum = fround(fround(sums[j] + src[ri + j]) - src[li + j]);
      sums[j] = sum;
      dst[oi + j] = sum / count;
    }
  }
  for (let i = 0; i < tail; i++, li += cols, oi += cols) {
    count--;
    for (let j = 0; j < cols; j++) {
      const sum = fround(sums[j] - src[li + j]);
      sums[j] = sum;
      dst[oi + j] = sum / count;
    }
  }
}

// ---- DCT ---------------------------------------------------------------------------------

// Rows 1..16 of the 64-point DCT-II basis, float32 like the reference's table.
const DCT = (() => {
  const d = new Float32Array(16 * 64);
  const scale = fround(Math.sqrt(2 / 64));
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      d[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1));
    }
  }
  return d;
})();

// B = D A D^T for the 64x64 block A, keeping the 16x16 low (non-DC) frequencies.
function dct16(block) {
  const t = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = fround(sum + fround(DCT[i * 64 + k] * block[k * 64 + j]));
      t[i * 64 + j] = sum;
    }
  }
  const b = new Float32Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = fround(sum + fround(t[i * 64 + k] * DCT[j * 64 + k]));
      b[i * 16 + j] = sum;
    }
  }
  return b;
}

// ---- quality and bits ----------------------------------------------------------------------

// Count significant gradients of the 64x64 downsample (the reference's heuristic, 0-100).
function quality(block) {
  let sum = 0;
  const grad = (u, v) => Math.abs(Math.trunc(fround(fround(fround(u - v) * 100) / 255)));
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) sum += grad(block[i * 64 + j], block[(i + 1) * 64 + j]);
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) sum += grad(block[i * 64 + j], block[i * 64 + j + 1]);
  }
  return Math.min(100, Math.floor(sum / 90));
}

// Bit i*16+j is set when coefficient (i, j) is above the median, the 128th smallest of
// the 256. The hex text is the 16 words of 16 bits from the last to the first, as
// Meta's tools (and hashbank's Python) print it. The median is taken in the
// coefficients' own precision (a Float32Array here, Float64Array for window hashes).
export function toHex(coefficients) {
  const median = coefficients.slice().sort()[127];
  const words = new Uint16Array(16);
  for (let k = 0; k < 256; k++) {
    if (coefficients[k] > median) words[k >> 4] |= 1 << (k & 15);
  }
  let hex = "";
  for (let w = 15; w >= 0; w--) hex += words[w].toString(16).padStart(4, "0");
  return hex;
}

/** PDQ of a 64 x 64 block of filtered, decimated luma (float32): { hash, quality }. */
export function pdqOfBlock(block) {
  return { hash: toHex(dct16(block)), quality: quality(block) };
}

/**
 * PDQ of a float32 luma plane (rows x cols, row-major; it is overwritten).
 * Returns { hash: 64 lowercase hex characters, quality: 0-100 }.
 */
export function pdqOfLuma(luma, rows, cols) {
  if (rows < 5 || cols < 5) return { hash: "0".repeat(64), quality: 0 };
  const block = new Float32Array(64 * 64);
  if (rows === 64 && cols === 64) {
    block.set(luma);
  } else {
    const tmp = new Float32Array(rows * cols);
    const alongRows = windowSize(cols, 64);
    const alongCols = windowSize(rows, 64);
    for (let pass = 0; pass < 2; pass++) {
      boxRows(luma, tmp, rows, cols, alongRows);
      boxCols(tmp, luma, rows, cols, alongCols);
    }
    for (let i = 0; i < 64; i++) {
      const r = Math.trunc(((i + 0.5) * rows) / 64);
      for (let j = 0; j < 64; j++) {
        const c = Math.trunc(((j + 0.5) * cols) / 64);
        block[i * 64 + j] = luma[r * cols + c];
      }
    }
  }
  return { hash: toHex(dct16(block)), quality: quality(block) };
}

/** PDQ of RGBA pixels. Returns { hash, quality }. */
export function pdqOfRGBA(rgba, width, height) {
  return pdqOfLuma(lumaOf(rgba, width, height), height, width);
}

/** Hamming distance of two hex hashes of the same length. */
export function hamming(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i += 8) {
    let x = (parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16)) >>> 0;
    while (x) {
      x &= x - 1;
      d++;
    }
  }
  return d;
}

// ---- Pillow's reduce(k) --------------------------------------------------------------------

// Pillow divides a block sum by a fixed-point reciprocal: (sum + n/2) * floor(2^32 /
// (256 n), in float32) >> 24. Reproducing it keeps the downscaled pixels bit-exact.
function reciprocal(n) {
  return Math.trunc(fround(4294967296 / (256 * n)));
}

/**
 * Box-downscale RGBA pixels by an integer factor k, as Pillow's `Image.reduce(k)`: each
 * output pixel is the mean of a k x k block; the last row and column of blocks may be
 * partial and average the pixels they have. Returns { data (RGBA), width, height }.
 *
 * `rows` of the input may be a strip of a taller image: pass rows that are a multiple
 * of k except for the image's last strip.
 */
export function reduceRGBA(rgba, width, rows, k, out = null, outRow = 0) {
  const ow = Math.ceil(width / k);
  const oh = Math.ceil(rows / k);
  const data = out || new Uint8ClampedArray(ow * oh * 4);
  const sums = new Uint32Array(ow * 3);
  for (let by = 0; by < oh; by++) {
    sums.fill(0);
    const y0 = by * k;
    const y1 = Math.min(rows, y0 + k);
    for (let y = y0; y < y1; y++) {
      let p = y * width * 4;
      for (let bx = 0, s = 0; bx < ow; bx++, s += 3) {
        const end = Math.min(width, bx * k + k);
        let r = 0;
        let g = 0;
        let b = 0;
        for (let x = bx * k; x < end; x++, p += 4) {
          r += rgba[p];
          g += rgba[p + 1];
          b += rgba[p + 2];
        }
        sums[s] += r;
        sums[s + 1] += g;
        sums[s + 2] += b;
      }
    }
    const bh = y1 - y0;
    let o = (outRow + by) * ow * 4;
    for (let bx = 0; bx < ow; bx++, o += 4) {
      const bw = Math.min(width, bx * k + k) - bx * k;
      const n = bw * bh;
      const mult = reciprocal(n);
      const amend = Math.floor(n / 2);
      for (let c = 0; c < 3; c++) {
        data[o + c] = Math.floor(((sums[bx * 3 + c] + amend) * mult) / 16777216);
      }
      data[o + 3] = 255;
    }
  }
  return { data, width: ow, height: oh };
}

// ---- trimming uniform surroundings (hashes/_trim.py) ------------------------------------

const TRIM_TOLERANCE = 5.0;
const FLAT_SHARE = 0.98;
const MIN_TRIM = 0.02;
const MIN_AREA = 0.08;
const MAX_GAP = 2;
const G0 = fround(0.299);
const G1 = fround(0.587);
const G2 = fround(0.114);

function greyOf(rgba, width, height) {
  const n = width * height;
  const grey = new Float32Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 4) {
    grey[i] = fround(fround(fround(rgba[p] * G0) + fround(rgba[p + 1] * G1)) + fround(rgba[p + 2] * G2));
  }
  return grey;
}

function medianOf(values) {
  values.sort();
  const n = values.length;
  const mid = n >> 1;
  return n % 2 ? values[mid] : fround((values[mid - 1] + values[mid]) / 2);
}

// One flag per line (a row, or a column when `alongCols`) of the box: nearly flat?
function flatLines(grey, width, top, bottom, left, right, alongCols) {
  const lines = alongCols ? right - left : bottom - top;
  const length = alongCols ? bottom - top : right - left;
  const flags = new Uint8Array(lines);
  const at = (line, i) =>
    alongCols ? grey[(top + i) * width + left + line] : grey[(top + line) * width + left + i];
  const sample = new Float32Array(Math.ceil(length / 4));
  for (let line = 0; line < lines; line++) {
    for (let i = 0, s = 0; i < length; i += 4, s++) sample[s] = at(line, i);
    const median = medianOf(sample);
    // flat when at most `allowed` pixels are far from the median: stop counting past it
    const allowed = length - Math.ceil(FLAT_SHARE * length - 1e-9);
    let far = 0;
    for (let i = 0; i < length && far <= allowed; i++) {
      if (!(Math.abs(fround(at(line, i) - median)) <= TRIM_TOLERANCE)) far++;
    }
    flags[line] = far <= allowed && (length - far) / length >= FLAT_SHARE ? 1 : 0;
  }
  return flags;
}

// The longest run of non-flat lines, bridging flat gaps of fewer than MAX_GAP lines.
function longestRun(flat) {
  const idx = [];
  for (let i = 0; i < flat.length; i++) if (!flat[i]) idx.push(i);
  if (!idx.length) return null;
  let best = null;
  let start = idx[0];
  for (let i = 1; i <= idx.length; i++) {
    if (i === idx.length || idx[i] - idx[i - 1] > MAX_GAP) {
      const end = idx[i - 1] + 1;
      if (!best || end - start > best[1] - best[0]) best = [start, end];
      if (i < idx.length) start = idx[i];
    }
  }
  return [best[0], Math.min(flat.length, best[1])];
}

/**
 * The photo inside uniform borders, bars or frames, as [top, bottom, left, right], or
 * null when there is nothing worth trimming (as hashes/_trim.py `content_box`).
 */
export function contentBox(rgba, width, height) {
  return contentBoxOfGrey(greyOf(rgba, width, height), width, height);
}

/** contentBox of a grey (luma) plane, row-major, `width` x `height`. */
export function contentBoxOfGrey(grey, width, height) {
  let [top, bottom, left, right] = [0, height, 0, width];
  for (let round = 0; round < 2; round++) {
    const rows = longestRun(flatLines(grey, width, top, bottom, left, right, false));
    if (!rows) return null;
    [top, bottom] = [top + rows[0], top + rows[1]];
    const cols = longestRun(flatLines(grey, width, top, bottom, left, right, true));
    if (!cols) return null;
    [left, right] = [left + cols[0], left + cols[1]];
  }
  const bh = bottom - top;
  const bw = right - left;
  if (height - bh < MIN_TRIM * height && width - bw < MIN_TRIM * width) return null;
  if (bh < 16 || bw < 16 || bh * bw < MIN_AREA * height * width) return null;
  return [top, bottom, left, right];
}

// ---- the working copy the stored window hashes are computed from (windows.js) ----------

export const WORK_MAX_SIDE = 512;

/**
 * The working copy variants are hashed from: the image box-reduced by the smallest
 * integer factor that brings its longer side to at most 512 px.
 */
export function workPixels(rgba, width, height) {
  const k = Math.ceil(Math.max(width, height) / WORK_MAX_SIDE);
  return k > 1 ? reduceRGBA(rgba, width, height, k) : { data: rgba, width, height };
}
