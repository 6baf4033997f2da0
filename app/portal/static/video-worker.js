// The work of hashing a video that needs no page: in a worker, so that the page stays
// responsive. Two kinds of message, each answered with the same `id`:
//
//   { id, op: "exact", file, chunk }  -> MD5 and SHA-256 of the whole file, read in
//       chunks of `chunk` bytes with File.slice (a 2 GB video is never in memory whole);
//       { id, op: "progress", done } after each chunk, then { id, ok, md5, sha256 };
//   { id, op: "frame", job, bitmap, distinct } -> PDQ and quality of one sampled frame
//       (an ImageBitmap, closed here) and, when the frame is more than `distinct` bits
//       from the last frame of the same `job` that got them (a new shot, not a still
//       camera: hashes/_video.py DISTINCT_DISTANCE), the PDQ hashes a report stores for
//       it (windows.js VIDEO_PLAN): { id, ok, pdq, quality, stored (null when not) }.
//       Frames arrive in time order, and a worker handles its messages in order.
//
// Nothing is written anywhere and nothing leaves the device.

import { Md5 } from "./md5.js";
import { hamming, lumaOf, pdqOfLuma, workPixels } from "./pdq.js";
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

function frame(job, bitmap, distinct) {
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const { hash: pdq, quality } = pdqOfLuma(lumaOf(rgba, width, height), height, width);
  const last = lastWithVariants.get(job);
  let stored = null;
  if (distinct >= 0 && (last === undefined || hamming(pdq, last) > distinct)) {
    stored = storedVariants(pdq, workPixels(rgba, width, height), VIDEO_PLAN);
    lastWithVariants.set(job, pdq);
  }
  return { pdq, quality, stored };
}

self.onmessage = async (event) => {
  const { id, op } = event.data;
  try {
    let result = {};
    if (op === "exact") result = await exact(id, event.data.file, event.data.chunk);
    else if (op === "frame") result = frame(event.data.job, event.data.bitmap, event.data.distinct);
    self.postMessage({ id, op: "done", ok: true, ...result });
  } catch (err) {
    self.postMessage({ id, op: "done", ok: false, detail: String(err && err.message) });
  }
};
