// The PDQ hashes a report stores, as hashbank's Python computes them (hashes/_windows.py
// and hashes/_variants.py, density "default"): besides the image's own PDQ, *window
// hashes*, i.e. PDQ's DCT and median threshold applied to the 64x64 area averages of a
// rectangle of the image (possibly turned), read from a summed-area table.
//
// Every step is float64 arithmetic in the same order as the Python (numpy's cumulative
// sums are sequential, its element-wise operations are IEEE), so the same pixels give
// the same windows and the same cell values; only the DCT sums in another order than
// numpy's matrix product, which could flip a coefficient lying exactly on the median.
//
// Which windows (see hashes/_variants.py for why):
//   the whole image and its 7 flips and quarter turns; the photo inside uniform
//   surroundings; the eroded whole image (its luma's minimum over a square ~6 % of the
//   shorter side wide: white text laid over the photo wiped out); centred crops keeping
//   92-64 %; centred 1:1, 4:5, 5:4 crops; a 3x3 grid of 96 % windows; windows along each side (full length, 60 % deep); square
//   windows between pairs of the 8 strongest corners, turned along the pair's line.
//   Parts under PDQ quality 40 are left out; at most 48 hashes.

import { contentBox, contentBoxOfGrey, toHex } from "./pdq.js";

const BLOCK = 64;
const KEYPOINT_SIDE = 256;
const SMOOTH_PASSES = 8;
const NMS = 0.08;
const MARGIN = 0.04;
const MIN_PAIR = 0.2;
const PAIR_SIDE = 0.65;

export const PLAN = {
  turns: ["rotate90", "rotate180", "rotate270", "flip_x", "flip_y", "transpose", "transverse"],
  centreKeeps: [0.92, 0.84, 0.77, 0.7, 0.64],
  aspects: [1.0, 0.8, 1.25],
  // a photo shown in a video: its centred 16:9 and 9:16 windows, whole and zoomed in
  frameAspects: [16 / 9, 9 / 16],
  frameKeeps: [1.0, 0.93, 0.86],
  gridKeep: 0.96,
  gridSteps: 3,
  edgeDepth: 0.6,
  storedKeypoints: 8,
  maxStored: 48,
  minQuality: 40,
  // the eroded whole image: a minimum filter about this share of the shorter side wide
  erodeShare: 0.06,
};

/**
 * The plan of one sampled frame of a reported video (hashes/_video.py `VIDEO_PLAN`):
 * mirrored, trimmed (letterbox), centred crops, the portrait and square crops apps cut
 * from landscape video, edge windows, band windows (the full width, the top and the
 * bottom 80 % of the height: a caption band or corner watermark cut off), pair
 * windows; at most 24 hashes.
 */
export const VIDEO_PLAN = {
  ...PLAN,
  turns: ["flip_x"],
  centreKeeps: [0.92, 0.84, 0.77],
  aspects: [1.0, 0.5625, 0.8],
  frameAspects: [],
  gridSteps: 0,
  storedKeypoints: 6,
  maxStored: 24,
  bandKeep: 0.8,
  erodeShare: 0,
};

// Python's round(): halves go to the even neighbour.
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---- the plane: luma and its summed-area table ----------------------------------------

/** Luma (float64) of RGBA pixels and its (h+1) x (w+1) summed-area table. */
export class Plane {
  constructor(rgba, width, height, luma = null) {
    this.width = width;
    this.height = height;
    if (!luma) {
      luma = new Float64Array(width * height);
      for (let i = 0, p = 0; i < luma.length; i++, p += 4) {
        luma[i] = rgba[p] * 0.299 + rgba[p + 1] * 0.587 + rgba[p + 2] * 0.114;
      }
    }
    this.luma = luma;
    const W = width + 1;
    const t = new Float64Array((height + 1) * W);
    // cumulative sum down each column, then along each row (numpy's cumsum order)
    const col = new Float64Array(width);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) col[x] += luma[y * width + x];
      let run = 0;
      const row = (y + 1) * W;
      for (let x = 0; x < width; x++) {
        run += col[x];
        t[row + x + 1] = run;
      }
    }
    this.table = t;
  }

  /** The integral of the image over [0, y] x [0, x], at a fractional point. */
  integral(y, x) {
    const H = this.height;
    const Wd = this.width;
    y = Math.min(Math.max(y, 0), H);
    x = Math.min(Math.max(x, 0), Wd);
    const y0 = Math.min(Math.floor(y), H - 1);
    const x0 = Math.min(Math.floor(x), Wd - 1);
    const fy = y - y0;
    const fx = x - x0;
    const t = this.table;
    const W = Wd + 1;
    const top = t[y0 * W + x0] * (1.0 - fx) + t[y0 * W + x0 + 1] * fx;
    const bottom = t[(y0 + 1) * W + x0] * (1.0 - fx) + t[(y0 + 1) * W + x0 + 1] * fx;
    return top * (1.0 - fy) + bottom * fy;
  }

  /** The 64 x 64 area averages of a rectangle (fractional edges). */
  box(top, bottom, left, right) {
    const ys = new Float64Array(BLOCK + 1);
    const xs = new Float64Array(BLOCK + 1);
    for (let k = 0; k <= BLOCK; k++) {
      ys[k] = top + (bottom - top) * (k / BLOCK);
      xs[k] = left + (right - left) * (k / BLOCK);
    }
    const t = new Float64Array((BLOCK + 1) * (BLOCK + 1));
    for (let i = 0; i <= BLOCK; i++) {
      for (let j = 0; j <= BLOCK; j++) t[i * (BLOCK + 1) + j] = this.integral(ys[i], xs[j]);
    }
    const out = new Float64Array(BLOCK * BLOCK);
    const S = BLOCK + 1;
    for (let i = 0; i < BLOCK; i++) {
      for (let j = 0; j < BLOCK; j++) {
        const sum = t[(i + 1) * S + j + 1] - t[i * S + j + 1] - t[(i + 1) * S + j] + t[i * S + j];
        const area = (ys[i + 1] - ys[i]) * (xs[j + 1] - xs[j]);
        out[i * BLOCK + j] = sum / Math.max(area, 1e-12);
      }
    }
    return out;
  }

  /** The 64 x 64 block of a window turned by theta (anticlockwise on screen). */
  rotated(cy, cx, halfH, halfW, theta) {
    const c = Math.cos(theta);
    const s = Math.sin(theta);
    const dy = halfH / BLOCK;
    const dx = halfW / BLOCK;
    const area = Math.max(4.0 * dy * dx, 1e-12);
    const out = new Float64Array(BLOCK * BLOCK);
    for (let i = 0; i < BLOCK; i++) {
      const gy = (((i + 0.5) / BLOCK) * 2.0 - 1.0) * halfH;
      for (let j = 0; j < BLOCK; j++) {
        const gx = (((j + 0.5) / BLOCK) * 2.0 - 1.0) * halfW;
        const x = cx + gx * c + gy * s;
        const y = cy - gx * s + gy * c;
        const sum =
          this.integral(y + dy, x + dx) -
          this.integral(y - dy, x + dx) -
          this.integral(y + dy, x - dx) +
          this.integral(y - dy, x - dx);
        out[i * BLOCK + j] = sum / area;
      }
    }
    return out;
  }
}

// ---- erosion: the minimum over a square --------------------------------------------

/**
 * The luma's minimum over the square (2r + 1 px, r = round(share * shorter side / 2),
 * at least 1) around each pixel, clipped to the image: hashes/_windows.py `eroded`.
 * Van Herk / Gil-Werman (as hashes/_window_kernels.py): along a line padded with r
 * values of +Infinity each side, running minima forward (g) and backward (h) in blocks
 * of 2r + 1, and out[i] = min(h[i], g[i + 2r]). Along each row, then down the columns a
 * whole row at a time (contiguous memory). Minima are exact: the same floats as Python.
 */
export function eroded(luma, width, height, share) {
  const r = Math.max(1, roundHalfEven((share * Math.min(height, width)) / 2));
  const k = 2 * r + 1;
  const rows = new Float64Array(width * height);
  const n = width + 2 * r;
  const line = new Float64Array(n).fill(Infinity);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  for (let y = 0; y < height; y++) {
    line.set(luma.subarray(y * width, (y + 1) * width), r);
    g[0] = line[0];
    for (let j = 1; j < n; j++) {
      const v = line[j];
      const p = g[j - 1];
      g[j] = j % k === 0 || v < p ? v : p;
    }
    h[n - 1] = line[n - 1];
    for (let j = n - 2; j >= 0; j--) {
      const v = line[j];
      const p = h[j + 1];
      h[j] = (j + 1) % k === 0 || v < p ? v : p;
    }
    const o = y * width;
    for (let i = 0; i < width; i++) {
      const a = h[i];
      const b = g[i + k - 1];
      rows[o + i] = a < b ? a : b;
    }
  }
  const m = height + 2 * r;
  const pad = new Float64Array(m * width).fill(Infinity);
  pad.set(rows, r * width);
  const gs = new Float64Array(m * width);
  const hs = new Float64Array(m * width);
  for (let j = 0; j < m; j++) {
    const o = j * width;
    if (j % k === 0) gs.set(pad.subarray(o, o + width), o);
    else {
      for (let x = o; x < o + width; x++) {
        const a = gs[x - width];
        const b = pad[x];
        gs[x] = a < b ? a : b;
      }
    }
  }
  for (let j = m - 1; j >= 0; j--) {
    const o = j * width;
    if (j === m - 1 || (j + 1) % k === 0) hs.set(pad.subarray(o, o + width), o);
    else {
      for (let x = o; x < o + width; x++) {
        const a = hs[x + width];
        const b = pad[x];
        hs[x] = a < b ? a : b;
      }
    }
  }
  const out = new Float64Array(width * height);
  for (let i = 0; i < height; i++) {
    const o = i * width;
    const q = (i + k - 1) * width;
    for (let x = 0; x < width; x++) {
      const a = hs[o + x];
      const b = gs[q + x];
      out[o + x] = a < b ? a : b;
    }
  }
  return out;
}

// ---- PDQ's last stage on a 64x64 block -------------------------------------------------

const DCT = (() => {
  const d = new Float64Array(16 * 64);
  const scale = Math.sqrt(2.0 / 64.0);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) d[i * 64 + j] = scale * Math.cos((Math.PI / 128.0) * (i + 1) * (2.0 * j + 1.0));
  }
  return d;
})();

/** PDQ's DCT and median threshold of a 64x64 block, as 64 hex characters. */
export function blockHash(block) {
  const t = new Float64Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum += DCT[i * 64 + k] * block[k * 64 + j];
      t[i * 64 + j] = sum;
    }
  }
  const b = new Float64Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum += t[i * 64 + k] * DCT[j * 64 + k];
      b[i * 16 + j] = sum;
    }
  }
  return toHex(b);
}

/** PDQ's quality metric (0-100) of a 64x64 block. */
export function blockQuality(block) {
  let sum = 0;
  for (let i = 0; i < BLOCK - 1; i++) {
    for (let j = 0; j < BLOCK; j++) {
      sum += Math.trunc((Math.abs(block[(i + 1) * BLOCK + j] - block[i * BLOCK + j]) * 100.0) / 255.0);
    }
  }
  for (let i = 0; i < BLOCK; i++) {
    for (let j = 0; j < BLOCK - 1; j++) {
      sum += Math.trunc((Math.abs(block[i * BLOCK + j + 1] - block[i * BLOCK + j]) * 100.0) / 255.0);
    }
  }
  return Math.min(100, Math.floor(sum / 90));
}

// The 8 symmetries of a 64x64 block, as numpy's rot90 / flips / transpose.
const N = BLOCK - 1;
const TURNS = {
  rotate90: (b, i, j) => b[j * BLOCK + N - i], // np.rot90 k=1
  rotate180: (b, i, j) => b[(N - i) * BLOCK + N - j],
  rotate270: (b, i, j) => b[(N - j) * BLOCK + i],
  flip_x: (b, i, j) => b[i * BLOCK + N - j],
  flip_y: (b, i, j) => b[(N - i) * BLOCK + j],
  transpose: (b, i, j) => b[j * BLOCK + i],
  transverse: (b, i, j) => b[(N - j) * BLOCK + N - i],
};

function turned(block, at) {
  const out = new Float64Array(BLOCK * BLOCK);
  for (let i = 0; i < BLOCK; i++) for (let j = 0; j < BLOCK; j++) out[i * BLOCK + j] = at(block, i, j);
  return out;
}

// ---- keypoints ------------------------------------------------------------------------

// [1, 2, 1] / 4 along rows (axis 0) then columns, edges repeated; `passes` times.
// The same sums in the same order as hashes/_windows.py (bit-identical), in two buffers
// reused from pass to pass, the edges apart from the inner loops.
let scratch = new Float64Array(0);

function smooth(a, rows, cols, passes) {
  if (scratch.length < rows * cols) scratch = new Float64Array(rows * cols);
  const v = scratch;
  const out = new Float64Array(rows * cols);
  let cur = a;
  for (let p = 0; p < passes; p++) {
    for (let y = 0; y < rows; y++) {
      const up = Math.max(0, y - 1) * cols;
      const dn = Math.min(rows - 1, y + 1) * cols;
      const r = y * cols;
      for (let x = 0; x < cols; x++) v[r + x] = (cur[up + x] + cur[r + x] * 2.0 + cur[dn + x]) * 0.25;
    }
    for (let y = 0; y < rows; y++) {
      const r = y * cols;
      const last = r + cols - 1;
      out[r] = (v[r] + v[r] * 2.0 + v[Math.min(last, r + 1)]) * 0.25;
      for (let k = r + 1; k < last; k++) out[k] = (v[k - 1] + v[k] * 2.0 + v[k + 1]) * 0.25;
      if (cols > 1) out[last] = (v[last - 1] + v[last] * 2.0 + v[last]) * 0.25;
    }
    cur = out;
  }
  return cur;
}

function vertex(a, b, c) {
  const den = a - 2.0 * b + c;
  return den < 0 ? (0.5 * (a - c)) / den : 0.0;
}

/** The n strongest corners, [y, x] in the plane's pixels (hashes/_windows.py keypoints). */
export function keypoints(plane, n) {
  if (n <= 0) return [];
  const f = KEYPOINT_SIDE / Math.max(plane.height, plane.width);
  const rows = Math.max(16, roundHalfEven(plane.height * f));
  const cols = Math.max(16, roundHalfEven(plane.width * f));
  const sy = plane.height / rows;
  const sx = plane.width / cols;
  const t = new Float64Array((rows + 1) * (cols + 1));
  for (let i = 0; i <= rows; i++) {
    for (let j = 0; j <= cols; j++) t[i * (cols + 1) + j] = plane.integral(i * sy, j * sx);
  }
  const cell = sy * sx;
  let grey = new Float64Array(rows * cols);
  const C = cols + 1;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      grey[i * cols + j] = (t[(i + 1) * C + j + 1] - t[i * C + j + 1] - t[(i + 1) * C + j] + t[i * C + j]) / cell;
    }
  }
  grey = smooth(grey, rows, cols, SMOOTH_PASSES);
  const gxx = new Float64Array(rows * cols);
  const gyy = new Float64Array(rows * cols);
  const gxy = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      const gy =
        i === 0 ? grey[k + cols] - grey[k] : i === rows - 1 ? grey[k] - grey[k - cols] : (grey[k + cols] - grey[k - cols]) / 2.0;
      const gx = j === 0 ? grey[k + 1] - grey[k] : j === cols - 1 ? grey[k] - grey[k - 1] : (grey[k + 1] - grey[k - 1]) / 2.0;
      gxx[k] = gx * gx;
      gyy[k] = gy * gy;
      gxy[k] = gx * gy;
    }
  }
  const sxx = smooth(gxx, rows, cols, SMOOTH_PASSES);
  const syy = smooth(gyy, rows, cols, SMOOTH_PASSES);
  const sxy = smooth(gxy, rows, cols, SMOOTH_PASSES);
  const response = new Float64Array(rows * cols);
  for (let k = 0; k < response.length; k++) {
    response[k] = (sxx[k] * syy[k] - sxy[k] * sxy[k]) / (sxx[k] + syy[k] + 1e-9);
  }
  const radius = Math.max(2, Math.trunc(NMS * Math.max(rows, cols)));
  const margin = Math.trunc(MARGIN * Math.max(rows, cols)) + 1;
  // peaks: equal to the maximum over their (2r+1) square (clipped to the grid). Such a
  // point is first of all a maximum of its 3 x 3 neighbours (margin >= 1: all inside),
  // which few are: only those are compared with the whole square.
  const peaks = [];
  for (let i = margin; i < rows - margin; i++) {
    for (let j = margin; j < cols - margin; j++) {
      const k = i * cols + j;
      const here = response[k];
      if (!(here > 0)) continue;
      const above = k - cols;
      const below = k + cols;
      if (here < response[k - 1] || here < response[k + 1]) continue;
      if (here < response[above - 1] || here < response[above] || here < response[above + 1]) continue;
      if (here < response[below - 1] || here < response[below] || here < response[below + 1]) continue;
      let peak = true;
      const y1 = Math.min(rows - 1, i + radius);
      const x0 = Math.max(0, j - radius);
      const x1 = Math.min(cols - 1, j + radius);
      for (let y = Math.max(0, i - radius); y <= y1 && peak; y++) {
        const r = y * cols;
        for (let x = x0; x <= x1; x++) {
          if (response[r + x] > here) {
            peak = false;
            break;
          }
        }
      }
      if (peak) peaks.push(k);
    }
  }
  peaks.sort((a, b) => response[b] - response[a] || a - b);
  return peaks.slice(0, n).map((k) => {
    const y = Math.floor(k / cols);
    const x = k % cols;
    const dy = vertex(response[k - cols], response[k], response[k + cols]);
    const dx = vertex(response[k - 1], response[k], response[k + 1]);
    return [(y + 0.5 + dy) / f, (x + 0.5 + dx) / f];
  });
}

/** Square windows [cy, cx, half, theta] between pairs of keypoints (hashes/_windows.py). */
export function pairWindows(points, height, width) {
  const out = [];
  // pairs (0, 1), (0, 2), (1, 2), (0, 3), ...: those of the strongest points first
  for (let j = 1; j < points.length; j++) {
    for (let i = 0; i < j; i++) {
      const [y1, x1] = points[i];
      const [y2, x2] = points[j];
      const d = Math.hypot(y1 - y2, x1 - x2);
      if (d < MIN_PAIR * Math.min(height, width)) continue;
      let theta = Math.atan2(y1 - y2, x2 - x1);
      if (theta > Math.PI / 2) theta -= Math.PI;
      else if (theta <= -Math.PI / 2) theta += Math.PI;
      const half = (PAIR_SIDE * d) / 2.0;
      const reach = half * (Math.abs(Math.cos(theta)) + Math.abs(Math.sin(theta)));
      const cy = (y1 + y2) / 2.0;
      const cx = (x1 + x2) / 2.0;
      if (reach <= cy && cy <= height - reach && reach <= cx && cx <= width - reach) out.push([cy, cx, half, theta]);
    }
  }
  return out;
}

// ---- the stored set ---------------------------------------------------------------------

function centred(h, w, keep) {
  return [(h * (1 - keep)) / 2, (h * (1 + keep)) / 2, (w * (1 - keep)) / 2, (w * (1 + keep)) / 2];
}

function aspectWindow(h, w, aspect) {
  if (Math.abs(w / h - aspect) <= 0.03 * aspect) return null;
  if (w / h > aspect) {
    const cw = h * aspect;
    return [0.0, h, (w - cw) / 2, (w + cw) / 2];
  }
  const ch = w / aspect;
  return [(h - ch) / 2, (h + ch) / 2, 0.0, w];
}

// the centred part of window b keeping `keep` of each side (hashes/_variants.py _zoomed)
function zoomed(b, keep) {
  const dy = ((b[1] - b[0]) * (1 - keep)) / 2;
  const dx = ((b[3] - b[2]) * (1 - keep)) / 2;
  return [b[0] + dy, b[1] - dy, b[2] + dx, b[3] - dx];
}

function grid(h, w, keep, steps) {
  const out = [];
  for (let i = 0; i < steps; i++) {
    for (let j = 0; j < steps; j++) {
      const fy = i / (steps - 1);
      const fx = j / (steps - 1);
      const top = h * (1 - keep) * fy;
      const left = w * (1 - keep) * fx;
      out.push([top, top + h * keep, left, left + w * keep]);
    }
  }
  return out;
}

function edges(h, w, depth) {
  const out = [];
  let d = depth * h;
  if (d <= 0.98 * w) out.push([0.0, h, 0.0, d], [0.0, h, w - d, w]);
  d = depth * w;
  if (d <= 0.98 * h) out.push([0.0, d, 0.0, w], [h - d, h, 0.0, w]);
  return out;
}

/**
 * The PDQ hashes a report stores for one image, `pdq` first, without repeats, at most
 * `plan.maxStored`, from the working copy `work` ({data, width, height};
 * hashes/_variants.py `stored_variants`). `plan`: PLAN (an image) or VIDEO_PLAN.
 */
export function storedVariants(pdq, work, plan = PLAN) {
  // `work` is RGBA pixels ({ data, width, height }) or a luma plane ({ luma, width,
  // height }: a video frame's, read from its Y plane, decode.js); only luma is used
  const plane = new Plane(work.data, work.width, work.height, work.luma || null);
  const h = work.height;
  const w = work.width;
  const part = (block) => (blockQuality(block) >= plan.minQuality ? blockHash(block) : null);
  const whole = plane.box(0, h, 0, w);
  const out = [pdq, blockHash(whole)];
  for (const name of plan.turns) out.push(blockHash(turned(whole, TURNS[name])));
  const box = work.luma ? contentBoxOfGrey(work.luma, w, h) : contentBox(work.data, w, h);
  if (box) out.push(blockHash(plane.box(box[0], box[1], box[2], box[3])));
  if (plan.erodeShare) {
    const rough = new Plane(null, w, h, eroded(plane.luma, w, h, plan.erodeShare));
    out.push(part(rough.box(0, h, 0, w)));
  }
  const windows = plan.centreKeeps.map((k) => centred(h, w, k));
  for (const a of plan.aspects) {
    const b = aspectWindow(h, w, a);
    if (b) windows.push(b);
  }
  for (const a of plan.frameAspects) {
    const b = aspectWindow(h, w, a);
    if (b) for (const k of plan.frameKeeps) windows.push(zoomed(b, k));
  }
  if (plan.gridSteps > 1) windows.push(...grid(h, w, plan.gridKeep, plan.gridSteps));
  if (plan.edgeDepth) windows.push(...edges(h, w, plan.edgeDepth));
  for (const b of windows) {
    const block = plane.box(b[0], b[1], b[2], b[3]);
    const large = b[1] - b[0] >= 0.9 * h && b[3] - b[2] >= 0.9 * w;
    out.push(large ? blockHash(block) : part(block));
  }
  if (plan.bandKeep) {
    out.push(blockHash(plane.box(0, h * plan.bandKeep, 0, w)));
    out.push(blockHash(plane.box(h * (1 - plan.bandKeep), h, 0, w)));
  }
  for (const [cy, cx, r, theta] of pairWindows(keypoints(plane, plan.storedKeypoints), h, w)) {
    out.push(part(plane.rotated(cy, cx, r, r, theta)));
  }
  return [...new Set(out.filter((x) => x !== null))].slice(0, plan.maxStored);
}
