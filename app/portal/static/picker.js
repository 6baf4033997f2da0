// Picking images and videos and hashing them on this device: the file input, the folder
// input, drag and drop, a preview of each image with its fingerprints, a progress bar
// with the time left and a stop button for each video (video.js), and the opt-ins for
// what this browser cannot open (HEIC images, videos it cannot play). Used by the
// report page and by "add images" on the follow page.

import { config, t } from "./common.js";
import { STORED_BUDGET, VideoProblem, budgetVariants, frameText, hashVideo } from "./video.js";

const IMAGE_NAME = /\.(jpe?g|jpe|jfif|png|apng|webp|gif|bmp|dib|tiff?|heic|heif|hif)$/i;
const VIDEO_NAME = /\.(mp4|m4v|mov|qt|3gp|3g2|webm|mkv|avi|flv|ts|mts|m2ts|mpe?g|ogv|wmv)$/i;
const HEIC_NAME = /\.(heic|heif|hif)$/i;
const PROBLEM_TEXT = {
  empty: "file.empty",
  "not-image": "file.not_image",
  "too-large": "file.too_large",
  "too-many-pixels": "file.too_many_pixels",
  "too-small": "file.too_small",
  aspect: "file.aspect",
  heic: "file.heic",
  corrupt: "file.corrupt",
  insecure: "file.insecure",
};
const VIDEO_PROBLEM_TEXT = {
  empty: "file.empty",
  "too-long": "video.too_long",
  unplayable: "video.unplayable",
  cancelled: "video.cancelled",
};
export const MAX_HASHES_PER_REQUEST = 100;
export const MAX_REQUEST_BYTES = 15 * 1024; // JSON of one request's hashes: under 16 KB
const VPDQ_SEGMENT_BYTES = 12 * 1024; // one vpdq value's frames, at most (~150 frames)

/** The most bytes of one vpdq part: VPDQ_SEGMENT_BYTES, or less where a test asks for it
 * (`globalThis.hashbankTestHooks.vpdqPartBytes`, set by tests/browser before the page
 * loads, so that a short clip needs several parts; never more than the default). */
function partBytes() {
  const hooks = globalThis.hashbankTestHooks;
  const asked = hooks && Number(hooks.vpdqPartBytes);
  return asked > 0 ? Math.min(asked, VPDQ_SEGMENT_BYTES) : VPDQ_SEGMENT_BYTES;
}

function isVideo(file) {
  return (file.type || "").startsWith("video/") || VIDEO_NAME.test(file.name || "");
}

function isMedia(file) {
  return IMAGE_NAME.test(file.name) || file.type.startsWith("image/") || isVideo(file);
}

/** Whether a PDQ hash has between 16 and 240 bits set (the server refuses others). */
function balanced(hex) {
  let bits = 0;
  for (const c of hex) {
    let x = parseInt(c, 16);
    while (x) {
      bits += x & 1;
      x >>= 1;
    }
  }
  return bits >= 16 && bits <= 240;
}

/**
 * A video's frames as vpdq values of at most VPDQ_SEGMENT_BYTES each (a request must
 * stay under 16 KB: a long video's frame list is split in time order). Each is sent with
 * `part_of`, the video's SHA-256: the server joins the parts into one stored video.
 * Each frame carries its quality; a part without one frame of the server's quality floor
 * would be refused: it is left out (vPDQ ignores such frames when matching anyway).
 */
export function vpdqParts(frames, minQuality) {
  const limit = partBytes();
  const parts = [];
  let part = [];
  let size = 0;
  for (const frame of frames) {
    const text = frameText(frame);
    if (part.length && size + text.length + 4 > limit) {
      parts.push(part);
      part = [];
      size = 0;
    }
    part.push({ text, quality: frame.quality });
    size += text.length + 4;
  }
  if (part.length) parts.push(part);
  return parts.filter((p) => p.some((f) => f.quality >= minQuality)).map((p) => p.map((f) => f.text));
}

/** The frame variants of a video the server would take: good frames, balanced hashes. */
function usableVariants(result, minQuality) {
  return result.variants
    .filter((v) => v.quality >= minQuality)
    .map((v) => ({ ...v, pdq: [v.pdq[0], ...v.pdq.slice(1).filter(balanced)] }));
}

// Hashes files one at a time (bounded memory) in a module worker, or on the page when
// the browser cannot draw in a worker.
class Hasher {
  constructor() {
    this.worker = undefined;
    this.jobs = new Map();
    this.nextId = 1;
  }

  startWorker() {
    if (typeof Worker === "undefined" || typeof OffscreenCanvas === "undefined") return null;
    try {
      const worker = new Worker(new URL("./hash-worker.js", import.meta.url), { type: "module" });
      worker.onmessage = (event) => {
        const job = this.jobs.get(event.data.id);
        this.jobs.delete(event.data.id);
        if (job) job.resolve(event.data);
      };
      worker.onerror = (event) => {
        // The worker could not start (an old browser): hash the waiting files here.
        event.preventDefault();
        this.worker = null;
        const waiting = [...this.jobs.values()];
        this.jobs.clear();
        for (const job of waiting) this.onPage(job.file).then(job.resolve);
      };
      return worker;
    } catch {
      return null;
    }
  }

  async onPage(file) {
    const { hashImage, ImageProblem } = await import("./hashing.js");
    try {
      return { ok: true, result: await hashImage(file, config.limits) };
    } catch (err) {
      return { ok: false, code: err instanceof ImageProblem ? err.code : "corrupt" };
    }
  }

  hash(file) {
    if (this.worker === undefined) this.worker = this.startWorker();
    if (!this.worker) return this.onPage(file);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.jobs.set(id, { file, resolve });
      this.worker.postMessage({ id, file, limits: config.limits });
    });
  }
}

const hasher = new Hasher();

/**
 * The hashes to send for `results` (hashed images and videos), at most `capacity` of
 * them. First what identifies each one: an image's PDQ, MD5 and SHA-256; a video's MD5,
 * SHA-256 and vPDQ (Meta's frame list, split in parts that fit a request, each naming
 * the video's SHA-256, which comes before them: requests keep this order). Then the
 * extra hashes: a video's frame variants (budgeted per video as the server does,
 * within half of the room left when there are images too), and each image's stored PDQ
 * variants in turns, so that every image is covered before any gets extra variants.
 * Returns null when even the first ones do not fit.
 */
export function chooseHashes(results, capacity) {
  const minQuality = config.limits.minPdqQuality;
  const seen = new Set();
  const out = [];
  const add = (hash) => {
    const key = `${hash.type}:${hash.value}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(hash);
  };
  const images = results.filter((r) => r.kind !== "video");
  const videos = results.filter((r) => r.kind === "video");
  for (const r of images) {
    add({ type: "pdq", value: r.pdq, quality: r.quality });
    add({ type: "md5", value: r.md5 });
    add({ type: "sha256", value: r.sha256 });
  }
  for (const r of videos) {
    add({ type: "video_md5", value: r.md5 });
    add({ type: "video_sha256", value: r.sha256 });
    // every part names its video (the video_sha256 just added): one stored video
    for (const part of vpdqParts(r.frames || [], minQuality)) {
      add({ type: "vpdq", value: part, part_of: r.sha256 });
    }
  }
  if (out.length > capacity) return null;
  const withFrames = videos.filter((r) => r.variants && r.variants.length);
  if (withFrames.length) {
    const room = capacity - out.length;
    const share = Math.floor((images.length ? room / 2 : room) / withFrames.length);
    for (const r of withFrames) {
      for (const frame of budgetVariants(usableVariants(r, minQuality), Math.min(STORED_BUDGET, share))) {
        // the frame's own PDQ is in the vPDQ value already (as the server sends them)
        for (const value of frame.pdq.slice(1)) {
          if (out.length >= capacity) break;
          add({ type: "pdq", value, quality: frame.quality, seconds: frame.seconds });
        }
      }
    }
  }
  const longest = Math.max(0, ...images.map((r) => r.pdqStored.length));
  for (let i = 1; i < longest; i++) {
    for (const r of images) {
      if (out.length >= capacity) return out;
      if (i < r.pdqStored.length) add({ type: "pdq", value: r.pdqStored[i], quality: r.quality });
    }
  }
  return out;
}

/** Split `hashes` into request-sized chunks: at most 100 hashes and 15 KB of JSON each. */
export function chunks(hashes) {
  const out = [];
  let part = [];
  let size = 0;
  for (const hash of hashes) {
    const bytes = new TextEncoder().encode(JSON.stringify(hash)).length + 1;
    if (part.length && (part.length >= MAX_HASHES_PER_REQUEST || size + bytes > MAX_REQUEST_BYTES)) {
      out.push(part);
      part = [];
      size = 0;
    }
    part.push(hash);
    size += bytes;
  }
  if (part.length) out.push(part);
  return out;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

async function filesOfEntry(entry, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    if (isMedia(file)) out.push(file);
    return;
  }
  if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await filesOfEntry(child, out);
    }
  }
}

/** One picker: `root` holds the data-* elements of templates/_picker.html. */
export class Picker {
  constructor(root, onChange) {
    this.root = root;
    this.onChange = onChange;
    this.items = [];
    this.queue = Promise.resolve();
    this.working = 0;
    this.announced = 0; // when the progress was last put in the live region
    this.list = root.querySelector("[data-list]");
    this.status = root.querySelector("[data-status]");
    this.heic = root.querySelector("[data-heic]");
    this.heicOk = root.querySelector("[data-heic-ok]");
    this.unplayable = root.querySelector("[data-unplayable]");
    this.unplayableOk = root.querySelector("[data-unplayable-ok]");
    const files = root.querySelector("[data-files]");
    files.addEventListener("change", () => {
      this.add([...files.files]);
      files.value = "";
    });
    const folder = root.querySelector("[data-folder]");
    if ("webkitdirectory" in folder && window.matchMedia("(pointer: fine)").matches) {
      root.querySelector("[data-folder-wrap]").hidden = false;
    }
    folder.addEventListener("change", () => {
      // a folder holds other files too: keep what looks like an image or a video
      this.add([...folder.files].filter(isMedia));
      folder.value = "";
    });
    const zone = root.querySelector("[data-dropzone]");
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", async (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      const found = [];
      const entries = [...event.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry());
      if (entries.every(Boolean)) {
        for (const entry of entries) await filesOfEntry(entry, found);
      } else {
        found.push(...event.dataTransfer.files);
      }
      this.add(found);
    });
    this.heicOk.addEventListener("change", () => this.changed());
    this.unplayableOk.addEventListener("change", () => this.changed());
  }

  /** Images and videos ready to report (hashed here); a video this browser cannot play
   * counts with its exact hashes, unless it goes to the server to be hashed whole. */
  ready() {
    return this.items.filter(
      (i) => i.state === "ready" || (i.state === "unplayable" && i.result && !this.unplayableOk.checked),
    );
  }

  /** HEIC images and videos this browser cannot play that the person agreed to have
   * hashed in the server's memory (a video only within the server's size limit). */
  serverChosen() {
    const heic = this.heicOk.checked ? this.items.filter((i) => i.state === "heic") : [];
    const videos = this.unplayableOk.checked
      ? this.items.filter((i) => i.state === "unplayable" && i.file.size <= config.limits.maxVideoBytes)
      : [];
    return [...heic, ...videos];
  }

  busy() {
    return this.working > 0;
  }

  add(files) {
    for (const file of files) {
      const kind = isVideo(file) ? "video" : "image";
      const item = { file, kind, name: file.name || t("pick.unnamed"), state: "hashing", result: null };
      item.node = this.render(item);
      this.items.push(item);
      this.list.append(item.node);
      this.working++;
      this.queue = this.queue.then(() => this.hashItem(item));
    }
    this.changed();
  }

  async hashItem(item) {
    if (!this.items.includes(item)) {
      this.working--;
      return; // removed while waiting
    }
    if (item.kind === "video") {
      await this.hashVideoItem(item);
      return;
    }
    const outcome = await hasher.hash(item.file);
    this.working--;
    if (!this.items.includes(item)) {
      if (outcome.ok && outcome.result.thumb) outcome.result.thumb.close();
      this.changed();
      return;
    }
    if (outcome.ok) {
      item.state = "ready";
      item.result = outcome.result;
    } else if (outcome.code === "heic" || (outcome.code === "corrupt" && HEIC_NAME.test(item.name))) {
      item.state = "heic";
    } else {
      item.state = "error";
      item.code = outcome.code;
    }
    const fresh = this.render(item);
    item.node.replaceWith(fresh);
    item.node = fresh;
    this.changed();
  }

  async hashVideoItem(item) {
    item.abort = new AbortController();
    item.progress = { share: 0, secondsLeft: null };
    this.refresh(item);
    let last = 0;
    const onProgress = (progress) => {
      item.progress = progress;
      const now = Date.now();
      if (now - last < 250) return; // redraw at most four times a second
      last = now;
      this.updateProgress(item);
    };
    try {
      const limits = config.limits;
      const result = await hashVideo(item.file, limits, { onProgress, signal: item.abort.signal });
      item.result = { kind: "video", ...result };
      item.state = "ready";
    } catch (err) {
      const problem = err instanceof VideoProblem ? err : new VideoProblem("unplayable", String(err));
      if (problem.code === "unplayable" && problem.exact) {
        item.state = "unplayable";
        item.result = { kind: "video", ...problem.exact, frames: [], variants: [] };
      } else {
        item.state = problem.code === "cancelled" ? "cancelled" : "error";
        item.code = problem.code;
      }
    }
    item.abort = null;
    this.working--;
    if (!this.items.includes(item)) {
      this.changed();
      return;
    }
    this.refresh(item);
    this.changed();
  }

  refresh(item) {
    const fresh = this.render(item);
    item.node.replaceWith(fresh);
    item.node = fresh;
  }

  updateProgress(item) {
    const bar = item.node.querySelector("progress");
    const text = item.node.querySelector(".image-state");
    if (!bar || !text) return;
    bar.value = item.progress.share;
    text.textContent = this.videoProgressText(item.progress);
  }

  videoProgressText({ share, secondsLeft }) {
    const percent = Math.floor(share * 100);
    if (secondsLeft === null) return t("video.working", { percent });
    const left =
      secondsLeft < 90
        ? t("video.seconds", { n: Math.max(1, Math.round(secondsLeft)) })
        : t("video.minutes", { n: Math.round(secondsLeft / 60) });
    return `${t("video.working", { percent })} ${t("video.time_left", { time: left })}`;
  }

  /** Stop hashing a video; it stays in the list, marked as stopped. */
  cancel(item) {
    if (item.abort) item.abort.abort();
  }

  remove(item) {
    if (item.abort) item.abort.abort();
    this.items = this.items.filter((i) => i !== item);
    if (item.result && item.result.thumb) item.result.thumb.close();
    item.node.remove();
    this.changed();
  }

  /** Forget every image: previews, fingerprints and the files themselves. */
  clear() {
    for (const item of this.items) {
      if (item.abort) item.abort.abort();
      if (item.result && item.result.thumb) item.result.thumb.close();
    }
    this.items = [];
    this.list.replaceChildren();
    this.heicOk.checked = false;
    this.unplayableOk.checked = false;
    this.changed();
  }

  changed() {
    const total = this.items.length;
    const done = total - this.working;
    const ready = this.ready().length;
    const problems = this.items.filter((i) => i.state === "error" || i.state === "cancelled").length;
    let text;
    if (!total) text = "";
    else if (this.working) text = t("pick.working", { done, total });
    else if (problems) text = t("pick.done_problems", { ready, problems });
    else text = t("pick.done", { ready });
    // Progress goes to the live region at most every 2 s, so that a screen reader is not
    // flooded while many images are prepared; the final count always goes at once.
    const now = Date.now();
    if (!this.working || !this.announced || now - this.announced > 2000) {
      this.status.textContent = text;
      this.announced = this.working ? now : 0;
    }
    this.heic.hidden = !this.items.some((i) => i.state === "heic");
    this.unplayable.hidden = !this.items.some((i) => i.state === "unplayable");
    this.onChange();
  }

  render(item) {
    return item.kind === "video" ? this.renderVideo(item) : this.renderImage(item);
  }

  removeButton(item) {
    const remove = el("button", {
      type: "button",
      class: "button small secondary",
      "aria-label": t("pick.remove_named", { name: item.name }),
      text: t("pick.remove"),
    });
    remove.addEventListener("click", () => this.remove(item));
    return remove;
  }

  renderImage(item) {
    const node = el("li", { class: "image", "data-state": item.state, "data-kind": "image" });
    const preview = el("div", { class: "thumb-wrap" });
    const r = item.result;
    if (r && r.thumb) {
      const canvas = el("canvas", { class: "thumb", role: "img", "aria-label": t("pick.preview", { name: item.name }) });
      canvas.width = r.thumb.width;
      canvas.height = r.thumb.height;
      canvas.getContext("2d").drawImage(r.thumb, 0, 0);
      preview.append(canvas);
    } else {
      preview.append(el("span", { class: "thumb-none", "aria-hidden": "true", text: item.state === "hashing" ? "…" : "—" }));
    }
    const info = el("div", { class: "image-info" }, el("span", { class: "image-name", text: item.name }));
    let state;
    if (item.state === "hashing") state = t("pick.state_hashing");
    else if (item.state === "ready") state = t("pick.state_ready");
    else if (item.state === "heic") state = t("file.heic");
    else state = t(PROBLEM_TEXT[item.code] || "file.corrupt", { size: config.limits.maxSize });
    info.append(el("span", { class: "image-state", text: state }));
    if (r) {
      node.dataset.pdq = r.pdq;
      node.dataset.md5 = r.md5;
      node.dataset.sha256 = r.sha256;
      node.dataset.stored = r.pdqStored.join(",");
      const list = el("dl", { class: "hashes" });
      list.append(el("dt", { text: "PDQ" }), el("dd", {}, el("code", { text: r.pdq })));
      list.append(el("dt", { text: t("pick.variants") }), el("dd", { text: String(r.pdqStored.length - 1) }));
      list.append(el("dt", { text: "MD5" }), el("dd", {}, el("code", { text: r.md5 })));
      list.append(el("dt", { text: "SHA-256" }), el("dd", {}, el("code", { text: r.sha256 })));
      info.append(el("details", { class: "fingerprints" }, el("summary", { text: t("pick.fingerprints") }), list));
    }
    node.append(preview, info, this.removeButton(item));
    return node;
  }

  renderVideo(item) {
    const node = el("li", { class: "image video", "data-state": item.state, "data-kind": "video" });
    const preview = el("div", { class: "thumb-wrap" }, el("span", { class: "thumb-none", "aria-hidden": "true", text: "▶" }));
    const info = el("div", { class: "image-info" }, el("span", { class: "image-name", text: item.name }));
    const r = item.result;
    let state;
    if (item.state === "hashing") state = this.videoProgressText(item.progress || { share: 0, secondsLeft: null });
    else if (item.state === "ready") state = t("video.ready", { seconds: Math.round(r.duration), frames: r.frames.length });
    else if (item.state === "unplayable") state = t("video.unplayable");
    else {
      const hours = Math.round(config.limits.maxVideoSeconds / 3600);
      state = t(VIDEO_PROBLEM_TEXT[item.code] || "video.unplayable", { hours });
    }
    info.append(el("span", { class: "image-state", text: state }));
    const buttons = [];
    if (item.state === "hashing") {
      const bar = el("progress", { max: "1", "aria-label": t("video.progress_named", { name: item.name }) });
      bar.value = item.progress ? item.progress.share : 0;
      info.append(bar);
      const stop = el("button", {
        type: "button",
        class: "button small secondary",
        "aria-label": t("video.cancel_named", { name: item.name }),
        text: t("video.cancel"),
        "data-cancel": "",
      });
      stop.addEventListener("click", () => this.cancel(item));
      buttons.push(stop);
    }
    if (r) {
      node.dataset.md5 = r.md5;
      node.dataset.sha256 = r.sha256;
      node.dataset.frames = JSON.stringify(r.frames.map(frameText));
      node.dataset.variants = JSON.stringify(r.variants);
      node.dataset.rate = String(r.rate || "");
      node.dataset.way = r.way || "";
      const list = el("dl", { class: "hashes" });
      if (r.frames.length) {
        list.append(el("dt", { text: t("video.length") }), el("dd", { text: t("video.seconds", { n: Math.round(r.duration) }) }));
        list.append(el("dt", { text: "vPDQ" }), el("dd", { text: t("video.frames", { n: r.frames.length }) }));
        const variants = r.variants.reduce((sum, v) => sum + v.pdq.length, 0);
        list.append(el("dt", { text: t("video.variants") }), el("dd", { text: String(variants) }));
      }
      list.append(el("dt", { text: "MD5" }), el("dd", {}, el("code", { text: r.md5 })));
      list.append(el("dt", { text: "SHA-256" }), el("dd", {}, el("code", { text: r.sha256 })));
      info.append(el("details", { class: "fingerprints" }, el("summary", { text: t("pick.fingerprints") }), list));
    }
    buttons.push(this.removeButton(item));
    node.append(preview, info, el("div", { class: "item-buttons" }, ...buttons));
    return node;
  }
}
