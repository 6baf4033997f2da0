// Hashes images off the page's main thread, so that the page stays responsive while a
// large photo is decoded and hashed. One message per file: { id, file, limits } in,
// { id, ok: true, result } or { id, ok: false, code, detail } out.

import { ImageProblem, hashImage } from "./hashing.js";

self.onmessage = async (event) => {
  const { id, file, limits } = event.data;
  try {
    const result = await hashImage(file, limits);
    self.postMessage({ id, ok: true, result }, result.thumb ? [result.thumb] : []);
  } catch (err) {
    const code = err instanceof ImageProblem ? err.code : "corrupt";
    self.postMessage({ id, ok: false, code, detail: String(err && err.message) });
  }
};
