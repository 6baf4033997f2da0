// Hashing a video on this device, the way hashbank's Python `hashes.hash_video` does on
// the server (hashes/_video.py):
//
//   1. MD5 and SHA-256 of the whole file, read in chunks with File.slice in a worker
//      (video-worker.js; md5.js and sha256.js are incremental): a 2 GB video is never
//      read into memory whole;
//   2. vPDQ, Meta's sampling: frames numbered n = 0, 1, 2... in presentation order at
//      the stream's average frame rate; frame n is sampled when n % int(rate / fps) == 0,
//      at the time float32(n) / float32(rate). Two ways, both in a worker:
//      - WebCodecs (the way where the browser has it and the file is MP4 or WebM, the
//        codec one it decodes): the file is demuxed (demux.js: mp4box.js, webm.js) and
//        every frame decoded once, in order, as the server does; only the sampled frames
//        become pixels (decode.js). Frame numbers and the rate come from the container,
//        exactly the server's;
//      - otherwise (no WebCodecs, another container, a codec WebCodecs lacks, a
//        failure), the browser's own player: a
//        <video> element on a blob: URL of the file, never attached to the page, is
//        sought to the middle of each sampled frame, the frame copied into an
//        ImageBitmap at its full size (as the server converts it, up to 1080p) and
//        handed to the worker. The frame rate is not exposed by players: it is measured
//        by playing the first frames muted (requestVideoFrameCallback's media times)
//        and snapped to the usual rates. Each seek decodes from the last keyframe: this
//        way is several times slower (docs/benchmarks.md);
//      each sampled frame gets PDQ and quality (pdq.js), and each distinct frame (more
//      than 12 bits from the last one that got them) the PDQ hashes a report stores
//      (windows.js VIDEO_PLAN);
//   3. the per-video budget of frame variants (hashes/_video.py `_variants`): each
//      distinct frame keeps budget / frames hashes (8 to 24), and frames beyond what
//      the budget pays at 8 are spread evenly over the video.
//
// Nothing is written anywhere and nothing leaves the device.

export const FPS = 1.0; // frames sampled a second (vPDQ's default)
export const DISTINCT_DISTANCE = 12; // hashes/_video.py DISTINCT_DISTANCE
export const STORED_BUDGET = 4800; // hashes/_video.py STORED_BUDGET
export const PER_FRAME_MAX = 24; // VIDEO_PLAN.max_stored
export const PER_FRAME_MIN = 8;
export const HASH_MAX_PIXELS = 1920 * 1088; // hashes/_video.py HASH_MAX_PIXELS
export const CHUNK_BYTES = 4 * 1024 * 1024; // read at a time for MD5 and SHA-256
const RATE_PROBE_FRAMES = 12;
const RATE_PROBE_MS = 4000;
const SHOWN_MS = 1000; // the longest a seek waits for its frame to be presented
// Frame rates cameras and encoders use; a measured rate within 1.5 % is snapped to one.
const RATES = [
  10, 12, 15, 24000 / 1001, 24, 25, 30000 / 1001, 30, 48, 50, 60000 / 1001, 60, 90, 100, 120,
];

/** Why a video cannot be hashed here; `code` picks the message the page shows. */
export class VideoProblem extends Error {
  constructor(code, detail = "") {
    super(detail || code);
    this.code = code; // empty, unplayable, too-long, cancelled, insecure
  }
}

// ---- pure helpers (tested through the page) -------------------------------------------

/** Python's round() to `digits` decimals (halves to even are too rare to matter here). */
function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A frame rate measured from frame durations, snapped to the usual rate it is near. */
export function snapRate(measured) {
  let best = measured;
  let err = 0.015;
  for (const rate of RATES) {
    const e = Math.abs(rate - measured) / rate;
    if (e < err) {
      best = rate;
      err = e;
    }
  }
  return best;
}

/**
 * The sampled frames of a video of `duration` seconds at `rate` frames a second:
 * [{ n, seconds, at }] with Meta's number n, its time as vPDQ writes it, and the time to
 * seek to (the middle of the frame, so that rounding never shows its neighbour).
 */
export function sampleTimes(duration, rate, fps = FPS) {
  const mod = Math.max(1, Math.trunc((1.0 / fps) * rate));
  const out = [];
  for (let n = 0; (n + 0.5) / rate < duration; n += mod) {
    out.push({ n, seconds: round(Math.fround(Math.fround(n) / Math.fround(rate)), 6), at: (n + 0.5) / rate });
  }
  return out;
}

/** `k` indices of range(n) spread evenly, first and last included (hashes/_video.py `_spread`). */
export function spread(n, k) {
  if (k >= n) return [...Array(n).keys()];
  if (k <= 1) return [0];
  const out = new Set();
  for (let i = 0; i < k; i++) {
    const x = (i * (n - 1)) / (k - 1);
    const r = Math.round(x);
    out.add(Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r); // Python's round: halves to even
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The frame variants to keep within `budget` hashes: `variants` is [{ seconds, pdq: [...] }]
 * (one per distinct frame, in time order); returns the same shape, budgeted.
 */
export function budgetVariants(variants, budget = STORED_BUDGET) {
  const n = variants.length;
  if (!n || budget <= 0) return [];
  const perFrame = Math.max(PER_FRAME_MIN, Math.min(PER_FRAME_MAX, Math.floor(budget / n)));
  return spread(n, Math.floor(budget / perFrame)).map((i) => ({
    seconds: variants[i].seconds,
    quality: variants[i].quality,
    pdq: variants[i].pdq.slice(0, perFrame),
  }));
}

/** Python's `f"{x:.3}"`: three significant digits, as Meta's vPDQ writes a frame's time. */
export function threeDigits(x) {
  if (x === 0) return "0.0";
  const [mantissa, exponent] = x.toExponential(2).split("e");
  const exp = Number(exponent);
  if (exp < -4 || exp >= 3) {
    const m = mantissa.replace(/\.?0+$/, "");
    return `${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  let fixed = x.toFixed(Math.max(0, 2 - exp)).replace(/0+$/, "");
  if (fixed.endsWith(".")) fixed += "0";
  else if (!fixed.includes(".")) fixed += ".0";
  return fixed;
}

/** One frame as Meta's vPDQ serialises it: "pdq_hex,quality,seconds". */
export function frameText(frame) {
  return `${frame.pdq},${frame.quality},${threeDigits(frame.seconds)}`;
}

// ---- the workers ---------------------------------------------------------------------

class WorkerCalls {
  constructor() {
    this.worker = new Worker(new URL("./video-worker.js", import.meta.url), { type: "module" });
    this.calls = new Map();
    this.nextId = 1;
    this.worker.onmessage = (event) => {
      const call = this.calls.get(event.data.id);
      if (!call) return;
      if (event.data.op === "progress") {
        if (call.onProgress) call.onProgress(event.data.done);
        return;
      }
      this.calls.delete(event.data.id);
      if (event.data.ok) call.resolve(event.data);
      else call.reject(new VideoProblem("unplayable", event.data.detail));
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      for (const call of this.calls.values()) call.reject(new VideoProblem("unplayable", "worker failed"));
      this.calls.clear();
    };
  }

  call(message, transfer = [], onProgress = null) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, ...message }, transfer);
    });
  }

  close() {
    this.worker.terminate();
    for (const call of this.calls.values()) call.reject(new VideoProblem("cancelled"));
    this.calls.clear();
  }
}

// ---- the player ------------------------------------------------------------------------

function once(target, events, signal) {
  return new Promise((resolve, reject) => {
    const done = (event) => {
      for (const name of Object.keys(events)) target.removeEventListener(name, done);
      signal.removeEventListener("abort", aborted);
      if (events[event.type]) resolve(event);
      else reject(new VideoProblem("unplayable", `the video could not be read (${event.type})`));
    };
    const aborted = () => {
      for (const name of Object.keys(events)) target.removeEventListener(name, done);
      reject(new VideoProblem("cancelled"));
    };
    for (const name of Object.keys(events)) target.addEventListener(name, done);
    signal.addEventListener("abort", aborted);
  });
}

async function openVideo(url, signal) {
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.preload = "auto";
  const loaded = once(video, { loadeddata: true, error: false }, signal);
  video.src = url;
  await loaded;
  if (!(video.videoWidth > 0 && video.videoHeight > 0 && video.duration > 0 && Number.isFinite(video.duration))) {
    throw new VideoProblem("unplayable", "no picture or no duration");
  }
  return video;
}

/** The frame rate, from the media times of the first frames the player shows. */
async function measureRate(video, signal) {
  if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return 30; // the usual rate
  const times = [];
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, RATE_PROBE_MS);
    const stop = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener("abort", stop);
    const onFrame = (_, meta) => {
      times.push(meta.mediaTime);
      if (times.length >= RATE_PROBE_FRAMES || video.ended) stop();
      else video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    video.addEventListener("ended", stop, { once: true });
    video.play().catch(stop);
  });
  video.pause();
  if (signal.aborted) throw new VideoProblem("cancelled");
  // A skipped frame only lengthens a gap: the shortest one is one frame.
  let shortest = Infinity;
  for (let i = 1; i < times.length; i++) {
    const gap = times[i] - times[i - 1];
    if (gap > 0.0005) shortest = Math.min(shortest, gap);
  }
  return Number.isFinite(shortest) ? snapRate(1 / shortest) : 30;
}

/**
 * Seek and wait until the frame at `seconds` is the one shown. `seeked` alone can fire
 * before the new frame reaches the compositor (seen under load: the previous frame was
 * grabbed, 132 bits off), so where the browser has requestVideoFrameCallback the seek
 * also waits for that frame to be presented (at most SHOWN_MS, then goes on as before).
 */
async function seek(video, seconds, signal) {
  const sought = once(video, { seeked: true, error: false }, signal);
  let shown = null;
  if ("requestVideoFrameCallback" in video) {
    shown = new Promise((resolve) => {
      const timer = setTimeout(resolve, SHOWN_MS);
      video.requestVideoFrameCallback(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  video.currentTime = seconds;
  await sought;
  if (shown) await shown;
}

/** The shown frame at the size the server hashes it (full size up to 1080p). */
function grab(video) {
  const w = video.videoWidth;
  const h = video.videoHeight;
  let k = 1;
  while (Math.floor(w / k) * Math.floor(h / k) > HASH_MAX_PIXELS) k++;
  if (k === 1) return createImageBitmap(video);
  const options = { resizeWidth: Math.floor(w / k), resizeHeight: Math.floor(h / k), resizeQuality: "medium" };
  return createImageBitmap(video, options);
}

// ---- WebCodecs -------------------------------------------------------------------------------

/**
 * The frames of a video read with WebCodecs in the worker (video-worker.js "decode"), or
 * null when this browser or this file cannot be read that way (the player then does it).
 */
async function decodeVideo(worker, blob, limits, job, onProgress) {
  let r;
  try {
    r = await worker.call({ op: "decode", job, file: blob, fps: FPS, distinct: DISTINCT_DISTANCE, limits }, [], onProgress);
  } catch (err) {
    if (err.code === "cancelled") throw err;
    return null; // a decoding failure: the player may still read it
  }
  if (!r.supported) return null;
  if (r.problem) throw new VideoProblem(r.problem, r.detail);
  const { duration, width, height, rate, frames, variants, timing } = r;
  return { duration, width, height, rate, frames, variants, timing, way: "webcodecs" };
}

// ---- the whole video ----------------------------------------------------------------------

let jobs = 0;

/**
 * Hash one video file (a Blob). `limits` = { maxVideoSeconds, maxVideoFrames };
 * `onProgress({ share, secondsLeft })` is called as work is done; `signal` (an
 * AbortSignal) cancels.
 *
 * Returns { md5, sha256, duration, width, height, rate, frames: [{ pdq, quality, seconds }],
 * variants: [{ seconds, quality, pdq: [...] }], way } (variants not yet budgeted: see
 * budgetVariants; `way` "webcodecs" or "player", how the frames were read). The option
 * `way: "player"` skips WebCodecs (the benchmark's and tests' baseline). Throws
 * VideoProblem; "unplayable" still carries `exact` (the MD5 and SHA-256, made whatever
 * the browser could play) when they could be made.
 */
export async function hashVideo(
  blob,
  limits,
  { onProgress = () => {}, signal = new AbortController().signal, way = "any" } = {},
) {
  if (blob.size === 0) throw new VideoProblem("empty");
  const started = performance.now();
  const exactWorker = new WorkerCalls();
  const frameWorker = new WorkerCalls();
  const url = URL.createObjectURL(blob);
  let job = ++jobs;
  let video = null;
  let exactShare = 0;
  let frameShare = 0;
  const report = () => {
    const elapsed = (performance.now() - started) / 1000;
    // Both run at once: the slower of the two says how long is left.
    const left = (share) => (share > 0 ? (elapsed / share) * (1 - share) : Infinity);
    const secondsLeft = Math.max(left(exactShare), left(frameShare));
    const share = Number.isFinite(secondsLeft) ? elapsed / (elapsed + secondsLeft) : Math.min(exactShare, frameShare);
    onProgress({ share: Math.min(1, share), secondsLeft: Number.isFinite(secondsLeft) ? secondsLeft : null });
  };
  const cancel = () => {
    exactWorker.close();
    frameWorker.close();
  };
  signal.addEventListener("abort", cancel);
  const exact = exactWorker
    .call({ op: "exact", file: blob, chunk: CHUNK_BYTES }, [], (done) => {
      exactShare = done / blob.size;
      report();
    })
    .then(({ md5, sha256 }) => ({ md5, sha256 }));
  exact.catch(() => {}); // awaited below; a cancelled video must not leave it unhandled
  try {
    if (way !== "player") {
      const decoded = await decodeVideo(frameWorker, blob, limits, job, (done) => {
        frameShare = done;
        report();
      });
      if (decoded) {
        const { md5, sha256 } = await exact;
        return { md5, sha256, ...decoded };
      }
      frameShare = 0;
      job = ++jobs; // the player's frames start a new run of distinct frames
    }
    try {
      video = await openVideo(url, signal);
    } catch (err) {
      if (err.code === "cancelled") throw err;
      const problem = new VideoProblem("unplayable", err.message);
      problem.exact = await exact; // exact copies can still be reported
      throw problem;
    }
    const duration = video.duration;
    if (duration > limits.maxVideoSeconds) throw new VideoProblem("too-long", `${Math.round(duration)} s`);
    const rate = await measureRate(video, signal);
    const samples = sampleTimes(duration, rate);
    if (samples.length > limits.maxVideoFrames) throw new VideoProblem("too-long", `${samples.length} frames`);
    const frames = [];
    const variants = [];
    const pending = [];
    for (const sample of samples) {
      await seek(video, Math.min(sample.at, duration), signal);
      const bitmap = await grab(video);
      // the worker hashes this frame while the player seeks the next
      const hashed = frameWorker.call({ op: "frame", job, bitmap, distinct: DISTINCT_DISTANCE }, [bitmap]).then((r) => {
        frames.push({ pdq: r.pdq, quality: r.quality, seconds: sample.seconds });
        if (r.stored) variants.push({ seconds: sample.seconds, quality: r.quality, pdq: r.stored });
        frameShare = frames.length / samples.length;
        report();
      });
      hashed.catch(() => {}); // awaited below, unless the video is cancelled first
      pending.push(hashed);
      if (pending.length > 2) await pending.shift(); // at most 3 frames in flight
    }
    await Promise.all(pending);
    if (!frames.length) throw new VideoProblem("unplayable", "no frame");
    const { md5, sha256 } = await exact;
    return {
      md5,
      sha256,
      duration,
      width: video.videoWidth,
      height: video.videoHeight,
      rate,
      frames,
      variants,
      way: "player",
    };
  } catch (err) {
    if (signal.aborted) throw new VideoProblem("cancelled");
    throw err instanceof VideoProblem ? err : new VideoProblem("unplayable", String(err && err.message));
  } finally {
    signal.removeEventListener("abort", cancel);
    exactWorker.close();
    frameWorker.close();
    if (video) {
      video.removeAttribute("src");
      video.load(); // lets the player drop its buffers at once
    }
    URL.revokeObjectURL(url);
  }
}
