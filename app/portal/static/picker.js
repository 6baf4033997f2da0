// Picking images and hashing them on this device: the file input, the folder input, drag
// and drop, a preview of each image with its fingerprints, and the HEIC opt-in. Used by
// the report page and by "add images" on the follow page.

import { config, t } from "./common.js";

const IMAGE_NAME = /\.(jpe?g|jpe|jfif|png|apng|webp|gif|bmp|dib|tiff?|heic|heif|hif)$/i;
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
export const MAX_HASHES_PER_REQUEST = 100; // keeps every request body under 16 KB

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
 * The hashes to send for `results` (hashed images), at most `capacity` of them: first
 * each image's PDQ, MD5 and SHA-256, then its stored PDQ variants in turns, so that
 * every image is covered before any gets extra variants. Returns null when even the
 * first three per image do not fit.
 */
export function chooseHashes(results, capacity) {
  const seen = new Set();
  const out = [];
  const add = (type, value, quality) => {
    const key = `${type}:${value}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(quality === undefined ? { type, value } : { type, value, quality });
  };
  for (const r of results) {
    add("pdq", r.pdq, r.quality);
    add("md5", r.md5);
    add("sha256", r.sha256);
  }
  if (out.length > capacity) return null;
  const longest = Math.max(0, ...results.map((r) => r.pdqStored.length));
  for (let i = 1; i < longest; i++) {
    for (const r of results) {
      if (out.length >= capacity) return out;
      if (i < r.pdqStored.length) add("pdq", r.pdqStored[i], r.quality);
    }
  }
  return out;
}

/** Split `hashes` into request-sized chunks. */
export function chunks(hashes) {
  const out = [];
  for (let i = 0; i < hashes.length; i += MAX_HASHES_PER_REQUEST) out.push(hashes.slice(i, i + MAX_HASHES_PER_REQUEST));
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
    if (IMAGE_NAME.test(file.name) || file.type.startsWith("image/")) out.push(file);
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
      // a folder holds other files too: keep what looks like an image
      this.add([...folder.files].filter((f) => IMAGE_NAME.test(f.name) || f.type.startsWith("image/")));
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
  }

  /** Images ready to report (hashed here). */
  ready() {
    return this.items.filter((i) => i.state === "ready");
  }

  /** HEIC images the person agreed to have hashed in server memory. */
  heicChosen() {
    return this.heicOk.checked ? this.items.filter((i) => i.state === "heic") : [];
  }

  busy() {
    return this.working > 0;
  }

  add(files) {
    for (const file of files) {
      const item = { file, name: file.name || t("pick.unnamed"), state: "hashing", result: null };
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

  remove(item) {
    this.items = this.items.filter((i) => i !== item);
    if (item.result && item.result.thumb) item.result.thumb.close();
    item.node.remove();
    this.changed();
  }

  /** Forget every image: previews, fingerprints and the files themselves. */
  clear() {
    for (const item of this.items) {
      if (item.result && item.result.thumb) item.result.thumb.close();
    }
    this.items = [];
    this.list.replaceChildren();
    this.heicOk.checked = false;
    this.changed();
  }

  changed() {
    const total = this.items.length;
    const done = total - this.working;
    const ready = this.ready().length;
    const problems = this.items.filter((i) => i.state === "error").length;
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
    this.onChange();
  }

  render(item) {
    const node = el("li", { class: "image", "data-state": item.state });
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
    const remove = el("button", {
      type: "button",
      class: "button small secondary",
      "aria-label": t("pick.remove_named", { name: item.name }),
      text: t("pick.remove"),
    });
    remove.addEventListener("click", () => this.remove(item));
    node.append(preview, info, remove);
    return node;
  }
}
