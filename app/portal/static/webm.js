// A WebM/Matroska demuxer for demux.js: the index of the first video track's frames
// (where each lies in the file, its time, whether it is a keyframe), read by walking the
// EBML element headers with File.slice (4 MB at a time); the frames themselves are not
// read here. Elements of unknown size (a browser's MediaRecorder writes its Segment and
// Clusters so) are read as running to their parent's end, a Cluster to the next element
// that is not one of a Cluster's. Laced blocks (audio, never video in practice) and a
// track without DefaultDuration (the frame rate FFmpeg uses, hashes/_video.py) are not
// read here: the page then plays the file in a <video> element instead.
//
// Nothing is written anywhere and nothing leaves the device.

import { ranks } from "./demux.js";

const WINDOW = 4 * 1024 * 1024;
const ID = {
  EBML: 0x1a45dfa3,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Duration: 0x4489,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  DefaultDuration: 0x23e383,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  ReferenceBlock: 0xfb,
};
// what a Cluster holds (Timecode, SilentTracks, Position, PrevSize, SimpleBlock,
// BlockGroup, EncryptedBlock, Void, CRC-32): anything else ends a Cluster of unknown size
const IN_CLUSTER = new Set([0xe7, 0x5854, 0xa7, 0xab, 0xa3, 0xa0, 0xaf, 0xec, 0xbf]);

/** File bytes through a sliding window. */
class Reader {
  constructor(file) {
    this.file = file;
    this.start = 0;
    this.bytes = new Uint8Array(0);
  }

  async at(pos, n) {
    if (pos < this.start || pos + n > this.start + this.bytes.length) {
      this.start = pos;
      this.bytes = new Uint8Array(await this.file.slice(pos, pos + Math.max(n, WINDOW)).arrayBuffer());
    }
    return pos - this.start;
  }

  /** An element header at `pos`: { id, size (null: unknown), data (its first byte) }. */
  async header(pos) {
    const i = await this.at(pos, 12);
    const b = this.bytes;
    if (i >= b.length) return null;
    const idLength = vintLength(b[i]);
    if (!idLength || i + idLength >= b.length) return null;
    let id = 0;
    for (let k = 0; k < idLength; k++) id = id * 256 + b[i + k];
    const sizeLength = vintLength(b[i + idLength]);
    if (!sizeLength || i + idLength + sizeLength > b.length) return null;
    let size = b[i + idLength] & (0xff >> sizeLength);
    let unknown = size === 0xff >> sizeLength;
    for (let k = 1; k < sizeLength; k++) {
      const byte = b[i + idLength + k];
      size = size * 256 + byte;
      unknown = unknown && byte === 0xff;
    }
    return { id, size: unknown ? null : size, data: pos + idLength + sizeLength };
  }

  async read(pos, n) {
    const i = await this.at(pos, n);
    return this.bytes.subarray(i, i + n);
  }
}

function vintLength(first) {
  for (let n = 1; n <= 8; n++) if (first & (0x80 >> (n - 1))) return n;
  return 0;
}

function uint(bytes) {
  let v = 0;
  for (const b of bytes) v = v * 256 + b;
  return v;
}

function float(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return bytes.length === 4 ? view.getFloat32(0) : bytes.length === 8 ? view.getFloat64(0) : 0;
}

/** FFmpeg's av_reduce(num / den) with numerator and denominator at most `max`. */
export function reduce(num, den, max) {
  const gcd = (a, b) => (b ? gcd(b, a % b) : a);
  const g = gcd(num, den);
  num /= g;
  den /= g;
  let [a0n, a0d, a1n, a1d] = [0, 1, 1, 0];
  if (num <= max && den <= max) {
    [a1n, a1d] = [num, den];
    den = 0;
  }
  while (den) {
    let x = Math.floor(num / den);
    const next = num - den * x;
    const a2n = x * a1n + a0n;
    const a2d = x * a1d + a0d;
    if (a2n > max || a2d > max) {
      if (a1n) x = Math.floor((max - a0n) / a1n);
      if (a1d) x = Math.min(x, Math.floor((max - a0d) / a1d));
      if (den * (2 * x * a1d + a0d) > num * a1d) [a1n, a1d] = [x * a1n + a0n, x * a1d + a0d];
      break;
    }
    [a0n, a0d, a1n, a1d] = [a1n, a1d, a2n, a2d];
    num = den;
    den = next;
  }
  return a1n / a1d;
}

async function children(reader, start, end, visit) {
  let pos = start;
  while (pos < end) {
    const h = await reader.header(pos);
    if (!h || h.size === null) return;
    await visit(h);
    pos = h.data + h.size;
  }
}

async function readTracks(reader, h) {
  const tracks = [];
  await children(reader, h.data, h.data + h.size, async (entry) => {
    if (entry.id !== ID.TrackEntry) return;
    const t = {};
    await children(reader, entry.data, entry.data + entry.size, async (e) => {
      const value = () => reader.read(e.data, e.size);
      if (e.id === ID.TrackNumber) t.number = uint(await value());
      else if (e.id === ID.TrackType) t.type = uint(await value());
      else if (e.id === ID.CodecID) t.codec = new TextDecoder().decode(await value());
      else if (e.id === ID.CodecPrivate) t.private = (await value()).slice();
      else if (e.id === ID.DefaultDuration) t.defaultDuration = uint(await value());
      else if (e.id === ID.Video) {
        await children(reader, e.data, e.data + e.size, async (v) => {
          if (v.id === ID.PixelWidth) t.width = uint(await reader.read(v.data, v.size));
          else if (v.id === ID.PixelHeight) t.height = uint(await reader.read(v.data, v.size));
        });
      }
    });
    tracks.push(t);
  });
  return tracks.find((t) => t.type === 1) || null;
}

const hex = (n) => n.toString(16).padStart(2, "0");

/** WebCodecs' codec string (and description) of a Matroska video track. */
function codecOf(track, firstFrame) {
  const p = track.private;
  switch (track.codec) {
    case "V_VP8":
      return { codec: "vp8" };
    case "V_VP9": {
      const profile = ((firstFrame[0] >> 5) & 1) | (((firstFrame[0] >> 4) & 1) << 1);
      return { codec: `vp09.0${profile}.10.${profile >= 2 ? "10" : "08"}` };
    }
    case "V_AV1": {
      if (!p || p.length < 4) return null;
      const depth = p[2] & 0x40 ? (p[2] & 0x20 ? 12 : 10) : 8;
      const level = String(p[1] & 0x1f).padStart(2, "0");
      return { codec: `av01.${p[1] >> 5}.${level}${p[2] & 0x80 ? "H" : "M"}.${String(depth).padStart(2, "0")}` };
    }
    case "V_MPEG4/ISO/AVC":
      if (!p || p.length < 7) return null;
      return { codec: `avc1.${hex(p[1])}${hex(p[2])}${hex(p[3])}`, description: p, nalLength: (p[4] & 3) + 1 };
    default:
      return null;
  }
}

/** demux.js's track of a WebM/Matroska file, or { unsupported: reason }. */
export async function demuxWebm(file) {
  const reader = new Reader(file);
  const ebml = await reader.header(0);
  if (!ebml || ebml.id !== ID.EBML || ebml.size === null) return { unsupported: "not EBML" };
  const segment = await reader.header(ebml.data + ebml.size);
  if (!segment || segment.id !== ID.Segment) return { unsupported: "no Segment" };
  const end = segment.size === null ? file.size : Math.min(file.size, segment.data + segment.size);
  let scale = 1000000;
  let duration = 0;
  let track = null;
  const offset = [];
  const size = [];
  const key = [];
  const times = [];
  let pos = segment.data;
  while (pos < end) {
    const h = await reader.header(pos);
    if (!h) break;
    if (h.id === ID.Info && h.size !== null) {
      await children(reader, h.data, h.data + h.size, async (e) => {
        if (e.id === ID.TimecodeScale) scale = uint(await reader.read(e.data, e.size));
        else if (e.id === ID.Duration) duration = float(await reader.read(e.data, e.size));
      });
    } else if (h.id === ID.Tracks && h.size !== null) {
      track = await readTracks(reader, h);
      if (!track) return { unsupported: "no video track" };
    } else if (h.id === ID.Cluster) {
      if (!track) return { unsupported: "clusters before tracks" };
      const clusterEnd = h.size === null ? end : h.data + h.size;
      let time = 0;
      let at = h.data;
      while (at < clusterEnd) {
        const e = await reader.header(at);
        if (!e || (h.size === null && !IN_CLUSTER.has(e.id))) break;
        if (e.size === null) return { unsupported: "a block of unknown size" };
        if (e.id === ID.Timecode) time = uint(await reader.read(e.data, e.size));
        else if (e.id === ID.SimpleBlock || e.id === ID.BlockGroup) {
          let block = e;
          let keyframe = false;
          if (e.id === ID.BlockGroup) {
            block = null;
            keyframe = true;
            await children(reader, e.data, e.data + e.size, async (g) => {
              if (g.id === ID.Block) block = g;
              else if (g.id === ID.ReferenceBlock) keyframe = false;
            });
          }
          if (block) {
            const head = await reader.read(block.data, Math.min(block.size, 12));
            const n = vintLength(head[0]);
            if (!n || n + 3 > block.size) return { unsupported: "a damaged block" };
            const number = uint(head.subarray(0, n)) - (0x80 >> (n - 1)) * 256 ** (n - 1);
            if (number === track.number) {
              const flags = head[n + 2];
              if (flags & 0x06) return { unsupported: "laced video frames" };
              const relative = ((head[n] << 8) | head[n + 1]) << 16 >> 16; // int16
              offset.push(block.data + n + 3);
              size.push(block.size - n - 3);
              key.push(e.id === ID.SimpleBlock ? (flags & 0x80 ? 1 : 0) : keyframe ? 1 : 0);
              times.push(time + relative);
            }
          }
        }
        at = e.data + e.size;
      }
      pos = at;
      continue;
    } else if (h.size === null) {
      return { unsupported: "an element of unknown size" };
    }
    pos = h.data + h.size;
  }
  if (!track || !offset.length) return { unsupported: "no video frames" };
  if (!track.defaultDuration) return { unsupported: "no DefaultDuration" };
  const codec = codecOf(track, await reader.read(offset[0], Math.min(size[0], 4)));
  if (!codec) return { unsupported: `codec ${track.codec}` };
  const rate = reduce(1e9, track.defaultDuration, 30000);
  const count = offset.length;
  return {
    container: "webm",
    codec: codec.codec,
    description: codec.description,
    nalLength: codec.nalLength || 0,
    codedWidth: track.width,
    codedHeight: track.height,
    rate,
    duration: duration ? (duration * scale) / 1e9 : ((times[count - 1] - times[0]) * scale) / 1e9 + 1 / rate,
    count,
    offset: Float64Array.from(offset),
    size: Uint32Array.from(size),
    key: Uint8Array.from(key),
    rank: ranks(times),
  };
}
