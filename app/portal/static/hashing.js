// Hashing an image file in the browser, the way hashbank's Python `hashes` does on the
// server (see hashes/_decode.py for the pipeline this mirrors):
//
//   1. refuse what the server would refuse: not an image (magic bytes), over the byte
//      or pixel limit, a shorter side under 16 px, an aspect ratio beyond 1:50;
//   2. decode with the browser (EXIF orientation applied, no colour management, alpha
//      composited over white);
//   3. JPEG: box-reduce to the scale the server's libjpeg "draft" decode uses (1/2, 1/4
//      or 1/8, keeping the shorter side >= 720 px); other formats over 16.7 MP: the
//      smallest integer box-reduce that brings them under it; else the exact pixels;
//   4. PDQ (pdq.js) of those pixels, plus the window hashes a report stores (windows.js);
//   5. MD5 (md5.js) and SHA-256 (crypto.subtle) of the file's bytes.
//
// Runs in a worker (hash-worker.js) or, where workers cannot draw, on the page. Nothing
// is written anywhere and nothing leaves the device.

import { md5 } from "./md5.js";
import { lumaOf, pdqOfLuma, reduceRGBA, workPixels } from "./pdq.js";
import { storedVariants } from "./windows.js";

export const MIN_SIDE = 16;
export const MAX_ASPECT = 50;
export const JPEG_DRAFT_MIN_SIDE = 720;
export const MAX_EXACT_PIXELS = 4096 * 4096;
export const BOMB_PIXELS_PER_BYTE = 1000;
export const THUMB_SIDE = 160;
const STRIP_PIXELS = 1 << 21; // pixels read from the decoded image at a time (8 MB)

/** Why an image cannot be hashed; `code` picks the message the page shows. */
export class ImageProblem extends Error {
  constructor(code, detail = "") {
    super(detail || code);
    this.code = code; // empty, not-image, too-large, too-many-pixels, too-small, aspect, heic, corrupt, insecure
  }
}

const HEIF_BRANDS = new Set(["heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1"]);

function ascii(bytes, from, to) {
  return String.fromCharCode(...bytes.subarray(from, to));
}

/** The image format from the first bytes, as the server names it, or null. */
export function sniffFormat(b) {
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "JPEG";
  if (ascii(b, 0, 8) === "\x89PNG\r\n\x1a\n") return "PNG";
  const six = ascii(b, 0, 6);
  if (six === "GIF87a" || six === "GIF89a") return "GIF";
  if (ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP") return "WEBP";
  if (b[0] === 0x42 && b[1] === 0x4d) return "BMP";
  const four = ascii(b, 0, 4);
  if (four === "II*\0" || four === "MM\0*" || four === "II+\0" || four === "MM\0+") return "TIFF";
  if (ascii(b, 4, 8) === "ftyp" && HEIF_BRANDS.has(ascii(b, 8, 12))) return "HEIF";
  return null;
}

/** [width, height] from the file header (before decoding), or null when not found. */
export function headerSize(b, format) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  try {
    if (format === "PNG") return [v.getUint32(16), v.getUint32(20)];
    if (format === "GIF") return [v.getUint16(6, true), v.getUint16(8, true)];
    if (format === "BMP") return [Math.abs(v.getInt32(18, true)), Math.abs(v.getInt32(22, true))];
    if (format === "JPEG") {
      let i = 2;
      while (i + 9 < b.length) {
        if (b[i] !== 0xff) return null;
        const marker = b[i + 1];
        if (marker === 0xff) {
          i++;
          continue;
        }
        const length = v.getUint16(i + 2);
        const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
        if (isFrame) return [v.getUint16(i + 7), v.getUint16(i + 5)];
        i += 2 + length;
      }
      return null;
    }
    if (format === "WEBP") {
      const chunk = ascii(b, 12, 16);
      if (chunk === "VP8 ") return [v.getUint16(26, true) & 0x3fff, v.getUint16(28, true) & 0x3fff];
      if (chunk === "VP8L") {
        const bits = v.getUint32(21, true);
        return [(bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1];
      }
      if (chunk === "VP8X") {
        const w = 1 + (b[24] | (b[25] << 8) | (b[26] << 16));
        const h = 1 + (b[27] | (b[28] << 8) | (b[29] << 16));
        return [w, h];
      }
    }
  } catch {
    return null; // a truncated header: the decoder will say what is wrong
  }
  return null;
}

/** Refuse sizes the server refuses (hashes/_decode.py `_check_geometry`). */
export function checkGeometry(width, height, nBytes, maxPixels) {
  if (width <= 0 || height <= 0) throw new ImageProblem("corrupt", `impossible size ${width}x${height}`);
  const pixels = width * height;
  if (pixels > maxPixels) throw new ImageProblem("too-many-pixels", `${width}x${height}`);
  if (pixels > MAX_EXACT_PIXELS && pixels > BOMB_PIXELS_PER_BYTE * nBytes) {
    throw new ImageProblem("too-many-pixels", `${width}x${height} in ${nBytes} bytes`);
  }
  if (Math.min(width, height) < MIN_SIDE) throw new ImageProblem("too-small", `${width}x${height}`);
  if (Math.max(width, height) > MAX_ASPECT * Math.min(width, height)) {
    throw new ImageProblem("aspect", `${width}x${height}`);
  }
}

/** The libjpeg draft scale the server decodes a JPEG at (1 = full size). */
export function draftScale(width, height) {
  for (const scale of [8, 4, 2]) {
    if (Math.floor(Math.min(width, height) / scale) >= JPEG_DRAFT_MIN_SIDE) return scale;
  }
  return 1;
}

/** The box-reduce factor for other formats: 1 up to 16.7 MP, else the smallest that fits. */
export function exactScale(width, height) {
  const pixels = width * height;
  if (pixels <= MAX_EXACT_PIXELS) return 1;
  let k = Math.ceil(Math.sqrt(pixels / MAX_EXACT_PIXELS));
  while (Math.ceil(width / k) * Math.ceil(height / k) > MAX_EXACT_PIXELS) k++;
  return k;
}

function context2d(width, height) {
  let canvas;
  if (typeof OffscreenCanvas !== "undefined") {
    canvas = new OffscreenCanvas(width, height);
  } else {
    canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingEnabled = false; // strips are copied 1:1, never resampled
  return ctx;
}

/**
 * The pixels to hash, RGBA over white, box-reduced by `scale`: read from the decoded
 * image in strips so that a 12 MP photo never needs its full RGBA copy at once.
 */
function readPixels(bitmap, scale) {
  const width = bitmap.width;
  const height = bitmap.height;
  const rows = Math.min(height, Math.max(scale, Math.floor(STRIP_PIXELS / width / scale) * scale));
  const ctx = context2d(width, rows);
  const outWidth = Math.ceil(width / scale);
  const outHeight = Math.ceil(height / scale);
  const out = new Uint8ClampedArray(outWidth * outHeight * 4);
  for (let y = 0; y < height; y += rows) {
    const n = Math.min(rows, height - y);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, width, rows);
    ctx.drawImage(bitmap, 0, y, width, n, 0, 0, width, n);
    const strip = ctx.getImageData(0, 0, width, n).data;
    if (scale === 1) out.set(strip, y * width * 4);
    else reduceRGBA(strip, width, n, scale, out, y / scale);
  }
  return { data: out, width: outWidth, height: outHeight };
}

async function thumbnail(bitmap) {
  const ratio = Math.min(1, THUMB_SIDE / Math.max(bitmap.width, bitmap.height));
  return createImageBitmap(bitmap, {
    resizeWidth: Math.max(1, Math.round(bitmap.width * ratio)),
    resizeHeight: Math.max(1, Math.round(bitmap.height * ratio)),
    resizeQuality: "medium",
  });
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Hash one image file (a Blob). `limits` = { maxBytes, maxPixels }; `withThumb` adds a
 * small ImageBitmap to show the person what they picked.
 *
 * Returns { format, width, height, pdq, quality, pdqStored: [hex...], md5, sha256, thumb }.
 * Throws ImageProblem when the file cannot be hashed here.
 */
export async function hashImage(blob, limits, { withThumb = true } = {}) {
  if (blob.size === 0) throw new ImageProblem("empty");
  if (blob.size > limits.maxBytes) throw new ImageProblem("too-large", `${blob.size} bytes`);
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const format = sniffFormat(bytes);
  if (format === null) throw new ImageProblem("not-image");
  const header = headerSize(bytes, format);
  if (header) checkGeometry(header[0], header[1], bytes.length, limits.maxPixels);
  if (!globalThis.crypto || !crypto.subtle) throw new ImageProblem("insecure"); // needs HTTPS
  const sha256 = crypto.subtle.digest("SHA-256", bytes);
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, {
      imageOrientation: "from-image",
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
  } catch (err) {
    // Browsers other than Safari cannot open HEIC or TIFF: the server can, if asked.
    throw new ImageProblem(format === "HEIF" || format === "TIFF" ? "heic" : "corrupt", String(err));
  }
  try {
    checkGeometry(bitmap.width, bitmap.height, bytes.length, limits.maxPixels);
    const scale = format === "JPEG" ? draftScale(bitmap.width, bitmap.height) : exactScale(bitmap.width, bitmap.height);
    const pixels = readPixels(bitmap, scale);
    const { hash: pdq, quality } = pdqOfLuma(lumaOf(pixels.data, pixels.width, pixels.height), pixels.height, pixels.width);
    const pdqStored = storedVariants(pdq, workPixels(pixels.data, pixels.width, pixels.height));
    return {
      format,
      width: bitmap.width,
      height: bitmap.height,
      pdq,
      quality,
      pdqStored,
      md5: md5(bytes),
      sha256: hex(await sha256),
      thumb: withThumb ? await thumbnail(bitmap) : null,
    };
  } finally {
    bitmap.close();
  }
}
