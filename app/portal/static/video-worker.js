// The work of hashing a video that needs no page: in a worker, so that the page stays
// responsive. Three kinds of message, each answered with the same `id`:
//
//   { id, op: "exact", file, chunk }  -> MD5 and SHA-256 of the whole file, read in
//       chunks of `chunk` bytes with File.slice (a 2 GB video is never in memory whole);
//       { id, op: "progress", done } after each chunk, then { id, ok, md5, sha256 };
//   { id, op: "decode", job, file, fps, distinct, limits } -> the whole vPDQ with
//       WebCodecs (demux.js, decode.js: every frame decoded once, in order, as the server
//       does): { id, op: "progress", done } (the share of the file decoded), then
//       { id, ok, supported: true, duration, width, height, rate, frames, variants } or
//       { id, ok, supported: true, problem, detail } (over a limit), or
//       { id, ok, supported: false, reason } when this browser or this file cannot be
//       read that way (no WebCodecs, not MP4/WebM, a codec the browser lacks): the page
//       then draws the frames from a <video> element (video.js) and sends them as
//   { id, op: "frame", job, bitmap, distinct } -> PDQ and quality of one sampled frame
//       (an ImageBitmap, closed here) and its stored variants: { id, ok, pdq, quality,
//       stored (null when not) }. Frames arrive in time order, and a worker handles its
//       messages in order.
//
// In both ways a frame gets the PDQ hashes a report stores (windows.js VIDEO_PLAN) when
// it is more than `distinct` bits from the last frame of the same `job` that got them (a
// new shot, not a still camera: hashes/_video.py DISTINCT_DISTANCE).
//
// Nothing is written anywhere and nothing leaves the device.

import { pdqOfFrameLuma } from "./framepdq.js";
import { Md5 } from "./md5.js";
import { WORK_MAX_SIDE, hamming, lumaOf, pdqOfLuma, workPixels } from "./pdq.js";
import { Sha256 } from "./sha256.js";
import { VIDEO_PLAN, storedVariants } from "./windows.js";

async function exact(id, file, chunk) {
  const md5 = new Md5();
  const sha = new Sha256();
  for (let offset = 0; offset < file.size; offset += chunk) {
    const bytes = new Uint8Array(await file.slice(offset, offset + chunk).arrayBuffer());
    md5.update(bytes);
    sha.update(bytes);
    self.postMessage({ id, op: "progress", done: Math.min(file.size, offset + chunk) });
  }
  return { md5: md5.hex(), sha256: sha.hex() };
}

const lastWithVariants = new Map(); // job -> PDQ of its last frame given variants

/**
 * The working copy the stored variants are computed on (pdq.js workPixels: at most
 * WORK_MAX_SIDE pixels a side, an area reduction by a whole factor), from a luma plane:
 * the windows use luma alone, so a video frame's RGB is never needed.
 */
function workLuma(luma, width, height) {
  const k = Math.ceil(Math.max(width, height) / WORK_MAX_SIDE);
  if (k <= 1) return { luma: Float64Array.from(luma), width, height };
  const ow = Math.ceil(width / k);
  const oh = Math.ceil(height / k);
  const out = new Float64Array(ow * oh);
  const counts = new Float64Array(ow * oh);
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / k) * ow;
    const from = y * width;
    for (let x = 0; x < width; x++) {
      out[row + Math.floor(x / k)] += luma[from + x];
    }
  }
  for (let by = 0; by < oh; by++) {
    const bh = Math.min(height, by * k + k) - by * k;
    for (let bx = 0; bx < ow; bx++) counts[by * ow + bx] = bh * (Math.min(width, bx * k + k) - bx * k);
  }
  for (let i = 0; i < out.length; i++) out[i] /= counts[i];
  return { luma: out, width: ow, height: oh };
}

/**
 * PDQ and quality of one frame, and its stored variants when it is a distinct frame.
 * `luma` (float32, a video frame's, decode.js) or null; `rgba()` its RGBA pixels.
 */
function hashFrame(job, width, height, luma, rgba, distinct, timing = null) {
  let t0 = performance.now();
  const { hash: pdq, quality } = luma
    ? pdqOfFrameLuma(luma, height, width)
    : pdqOfLuma(lumaOf(rgba(), width, height), height, width);
  if (timing) timing.pdq += performance.now() - t0;
  const last = lastWithVariants.get(job);
  let stored = null;
  if (distinct >= 0 && (last === undefined || hamming(pdq, last) > distinct)) {
    t0 = performance.now();
    const work = luma ? workLuma(luma, width, height) : workPixels(rgba(), width, height);
    stored = storedVariants(pdq, work, VIDEO_PLAN);
    if (timing) timing.variants += performance.now() - t0;
    lastWithVariants.set(job, pdq);
  }
  return { pdq, quality, stored };
}

function frame(job, bitmap, distinct) {
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  return hashFrame(job, width, height, null, () => rgba, distinct);
}

/** Python's round() to 6 decimals, as hash_video writes a frame's time. */
function round6(x) {
  return Math.round(x * 1e6) / 1e6;
}

async function decode(id, { job, file, fps, distinct, limits }) {
  if (typeof VideoDecoder === "undefined") return { supported: false, reason: "no WebCodecs" };
  const { demux } = await import("./demux.js");
  const { decodeSampled, decoderConfig } = await import("./decode.js");
  const track = await demux(file);
  if (track.unsupported) return { supported: false, reason: track.unsupported };
  if (!(track.rate > 0 && track.rate <= 1000)) return { supported: false, reason: "no frame rate" };
  const config = await decoderConfig(track);
  if (!config) return { supported: false, reason: `codec ${track.codec}` };
  if (track.duration > limits.maxVideoSeconds) {
    return { supported: true, problem: "too-long", detail: `${Math.round(track.duration)} s` };
  }
  // Meta's vpdq: frame n is sampled when n % int(rate / fps) == 0, at float32(n) / float32(rate)
  const mod = Math.max(1, Math.trunc((1.0 / fps) * track.rate));
  const sampled = Math.ceil(track.count / mod);
  if (sampled > limits.maxVideoFrames) return { supported: true, problem: "too-long", detail: `${sampled} frames` };
  const rate32 = Math.fround(track.rate);
  const frames = [];
  const variants = [];
  let shared = 0;
  const timing = { pdq: 0, variants: 0 }; // milliseconds in the worker (the benchmark's)
  await decodeSampled(
    file,
    track,
    config,
    mod,
    async ({ n, width, height, luma, rgba }) => {
      const seconds = round6(Math.fround(Math.fround(n) / rate32));
      const r = hashFrame(job, width, height, luma, rgba, distinct, timing);
      frames.push({ pdq: r.pdq, quality: r.quality, seconds });
      if (r.stored) variants.push({ seconds, quality: r.quality, pdq: r.stored });
    },
    (share) => {
      if (share - shared < 0.01) return;
      shared = share;
      self.postMessage({ id, op: "progress", done: share });
    },
  );
  if (!frames.length) throw new Error("no frame");
  return {
    supported: true,
    duration: track.duration,
    width: track.codedWidth,
    height: track.codedHeight,
    rate: track.rate,
    timing,
    frames,
    variants,
  };
}

self.onmessage = async (event) => {
  const { id, op } = event.data;
  try {
    let result = {};
    if (op === "exact") result = await exact(id, event.data.file, event.data.chunk);
    else if (op === "decode") result = await decode(id, event.data);
    else if (op === "frame") result = frame(event.data.job, event.data.bitmap, event.data.distinct);
    self.postMessage({ id, op: "done", ok: true, ...result });
  } catch (err) {
    self.postMessage({ id, op: "done", ok: false, detail: String(err && err.message) });
  }
};
