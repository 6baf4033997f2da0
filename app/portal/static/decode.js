// Decoding a demuxed video track (demux.js) with WebCodecs, the way the server's
// hashes/_video.py decodes with FFmpeg: every frame once, in decode order, no seeking;
// only Meta's sampled frames (presentation number n with n % int(rate / fps) == 0) are
// turned into pixels, and H.264 frames that no other frame refers to (every slice with
// nal_ref_idc 0) are not decoded at all unless they are sampled. Frame numbers come from
// the container's presentation times (demux.js `rank`), passed through the decoder as
// each chunk's timestamp, so skipping never shifts them.
//
// A sampled frame's luma is read from its Y plane (VideoFrame.copyTo, no colour
// conversion): PDQ's luma is 0.299 R + 0.587 G + 0.114 B, which for BT.601 YCbCr is Y
// itself (the chroma terms cancel), stretched from video range (16-235) to 0-255.
// Frames larger than 1080p are reduced by the server's whole factor (an area average,
// hashes/_video.py HASH_MAX_PIXELS). The RGBA pixels the stored frame variants need are
// drawn, only for the frames that get variants, on an OffscreenCanvas.
//
// Nothing is written anywhere and nothing leaves the device.

export const HASH_MAX_PIXELS = 1920 * 1088; // hashes/_video.py HASH_MAX_PIXELS
const READ_BYTES = 4 * 1024 * 1024; // compressed data read from the file at a time
const QUEUE = 64; // chunks waiting in the decoder at most
const YUV = new Set(["I420", "I420A", "I422", "I422A", "I444", "I444A", "NV12"]);

/** The server's hashing size of a width x height frame (hashes/_video.py `_target_size`). */
export function targetSize(width, height) {
  let k = 1;
  while (Math.floor(width / k) * Math.floor(height / k) > HASH_MAX_PIXELS) k++;
  return { k, width: Math.max(1, Math.floor(width / k)), height: Math.max(1, Math.floor(height / k)) };
}

/** True when every slice of a length-prefixed H.264 packet is a non-reference picture. */
export function disposable(data, nalLength) {
  let pos = 0;
  let slices = 0;
  const n = data.length;
  while (pos + nalLength <= n) {
    let size = 0;
    for (let k = 0; k < nalLength; k++) size = size * 256 + data[pos + k];
    pos += nalLength;
    if (size <= 0 || pos + size > n) return false;
    const header = data[pos];
    const kind = header & 0x1f;
    if (kind === 1 || kind === 5) {
      if (kind === 5 || header & 0x60) return false;
      slices++;
    }
    pos += size;
  }
  return slices > 0;
}

/** A decoder configuration this browser decodes, or null. */
export async function decoderConfig(track) {
  if (typeof VideoDecoder === "undefined" || typeof EncodedVideoChunk === "undefined") return null;
  const base = { codec: track.codec, codedWidth: track.codedWidth, codedHeight: track.codedHeight };
  if (track.description) base.description = track.description;
  for (const hardwareAcceleration of ["prefer-software", "no-preference"]) {
    const config = { ...base, hardwareAcceleration, optimizeForLatency: false };
    try {
      const { supported } = await VideoDecoder.isConfigSupported(config);
      if (supported) return config;
    } catch {
      return null; // a malformed codec string or description
    }
  }
  return null;
}

let planes = new Uint8Array(0);

/** Luma (float32, 0-255) of a YUV frame at the server's hashing size, from its Y plane. */
async function lumaOfFrame(frame, size) {
  const need = frame.allocationSize();
  if (planes.length < need) planes = new Uint8Array(need);
  const layout = await frame.copyTo(planes);
  const { offset, stride } = layout[0];
  const full = frame.colorSpace && frame.colorSpace.fullRange === true;
  const scale = full ? 1.0 : 255.0 / 219.0;
  const lift = full ? 0 : 16;
  const { k, width, height } = size;
  const luma = new Float32Array(width * height);
  if (k === 1) {
    for (let y = 0; y < height; y++) {
      const row = offset + y * stride;
      const out = y * width;
      for (let x = 0; x < width; x++) {
        const v = (planes[row + x] - lift) * scale;
        luma[out + x] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    return luma;
  }
  const area = k * k;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let dy = 0; dy < k; dy++) {
        const row = offset + (y * k + dy) * stride + x * k;
        for (let dx = 0; dx < k; dx++) sum += planes[row + dx];
      }
      const v = (sum / area - lift) * scale;
      luma[y * width + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return luma;
}

let canvas = null;

/** RGBA pixels of a frame at `size` (drawn by the browser, its own colour conversion). */
function rgbaOfFrame(frame, size) {
  if (!canvas || canvas.width !== size.width || canvas.height !== size.height) {
    canvas = new OffscreenCanvas(size.width, size.height);
  }
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(frame, 0, 0, size.width, size.height);
  return ctx.getImageData(0, 0, size.width, size.height).data;
}

/**
 * Decode `track` (demux.js) read from `file`, calling `await onSampled(picture)` for each
 * sampled frame in presentation order, with picture = { n, width, height, luma (a
 * Float32Array the callee may overwrite), rgba() (its RGBA pixels, when needed) }.
 * `onProgress(share)` as chunks are decoded. Throws when the decoder fails.
 */
export async function decodeSampled(file, track, config, mod, onSampled, onProgress = () => {}) {
  const frames = [];
  let failure = null;
  let wake = null;
  const notify = () => {
    if (wake) wake();
  };
  const decoder = new VideoDecoder({
    output: (frame) => {
      if (frame.timestamp % mod === 0) frames.push(frame);
      else frame.close();
      notify();
    },
    error: (e) => {
      failure = e;
      notify();
    },
  });
  const size = targetSize(track.codedWidth, track.codedHeight);
  const drain = async () => {
    while (frames.length) {
      const frame = frames.shift();
      try {
        if (failure) continue;
        const w = frame.visibleRect ? frame.visibleRect.width : frame.codedWidth;
        const h = frame.visibleRect ? frame.visibleRect.height : frame.codedHeight;
        const at = w === track.codedWidth && h === track.codedHeight ? size : targetSize(w, h);
        const luma = YUV.has(frame.format) ? await lumaOfFrame(frame, at) : null;
        let rgba = null;
        const pixels = () => rgba || (rgba = rgbaOfFrame(frame, at));
        await onSampled({ n: frame.timestamp, width: at.width, height: at.height, luma, rgba: pixels });
      } finally {
        frame.close();
      }
    }
  };
  try {
    decoder.configure(config);
    let windowStart = 0;
    let windowBytes = new Uint8Array(0);
    for (let i = 0; i < track.count; i++) {
      if (failure) throw failure;
      const rank = track.rank[i];
      const start = track.offset[i];
      const end = start + track.size[i];
      if (start < windowStart || end > windowStart + windowBytes.length) {
        windowStart = start;
        windowBytes = new Uint8Array(await file.slice(start, Math.max(end, start + READ_BYTES)).arrayBuffer());
        if (windowBytes.length < end - start) throw new Error("the file ends inside a frame");
      }
      const data = windowBytes.subarray(start - windowStart, end - windowStart);
      if (track.nalLength && !track.key[i] && rank % mod !== 0 && disposable(data, track.nalLength)) continue;
      decoder.decode(new EncodedVideoChunk({ type: track.key[i] ? "key" : "delta", timestamp: rank, data }));
      while (decoder.decodeQueueSize > QUEUE && !failure) {
        await new Promise((resolve) => {
          wake = resolve;
          decoder.addEventListener("dequeue", resolve, { once: true });
        });
      }
      await drain();
      if (i % 16 === 0) onProgress(i / track.count);
    }
    if (failure) throw failure;
    await decoder.flush();
    await drain();
    if (failure) throw failure;
  } finally {
    for (const frame of frames) frame.close();
    if (decoder.state !== "closed") decoder.close();
  }
}

