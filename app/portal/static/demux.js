// Reading a video file's compressed frames without playing it, for WebCodecs
// (decode.js): the container's index of samples (where each compressed frame lies in
// the file, its decode and presentation times, whether it is a keyframe) and what the
// decoder needs to be configured.
//
//   MP4/MOV: mp4box.js (vendored, mp4box.js) parses the `moov` box, which is read on its
//     own with File.slice wherever it lies (start or end of the file): the 'mdat' box,
//     i.e. the video itself, is never handed to the parser nor read whole. A fragmented
//     MP4 (`moof` boxes, as a browser's MediaRecorder writes) has its index spread
//     through the file: it is handed to the parser 4 MB at a time, which drops the
//     frames' data as it goes.
//   WebM/Matroska: webm.js (ours: an EBML walk over the clusters' block headers).
//
// A track is { codec, description, codedWidth, codedHeight, rate, duration, count,
// offset: Float64Array, size: Uint32Array, key: Uint8Array, rank: Uint32Array } with the
// samples in decode order and `rank[i]` the position of sample i in presentation order
// (Meta's vPDQ frame number). `rate` is FFmpeg's average frame rate (what the server's
// hashes/_video.py uses): the sample count over the sum of their durations.
//
// Nothing is written anywhere and nothing leaves the device.

const HEAD_BYTES = 16;
const READ_BYTES = 4 * 1024 * 1024;

/** The kind of container a file starts with (hashes/_video.py sniff_video), or null. */
export function sniff(head) {
  const tag = String.fromCharCode(...head.subarray(4, 8));
  if (["ftyp", "moov", "mdat", "free", "wide", "skip"].includes(tag)) return "mp4";
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return "webm";
  return null;
}

async function bytes(file, start, end) {
  return new Uint8Array(await file.slice(start, end).arrayBuffer());
}

/** Top-level MP4 boxes: [{ type, start, end }], read 16 bytes at a time. */
async function topBoxes(file) {
  const out = [];
  let pos = 0;
  while (pos + 8 <= file.size) {
    const head = await bytes(file, pos, pos + HEAD_BYTES);
    const view = new DataView(head.buffer);
    let size = view.getUint32(0);
    const type = String.fromCharCode(...head.subarray(4, 8));
    if (size === 1) {
      if (head.length < 16) break;
      size = view.getUint32(8) * 2 ** 32 + view.getUint32(12);
    } else if (size === 0) {
      size = file.size - pos;
    }
    if (size < 8) break;
    out.push({ type, start: pos, end: Math.min(file.size, pos + size) });
    pos += size;
  }
  return out;
}

/** The codec's configuration record (avcC, hvcC) as WebCodecs' `description`. */
function description(entry, DataStream, Endianness) {
  const box = entry.avcC || entry.hvcC;
  if (!box) return undefined;
  const stream = new DataStream(undefined, 0, Endianness.BIG_ENDIAN);
  box.write(stream);
  return new Uint8Array(stream.buffer, 8); // without the box's own header
}

/** Presentation ranks of samples from their presentation times (stable for ties). */
export function ranks(times) {
  const order = Array.from(times.keys()).sort((a, b) => times[a] - times[b] || a - b);
  const rank = new Uint32Array(times.length);
  order.forEach((sample, position) => {
    rank[sample] = position;
  });
  return rank;
}

async function demuxMp4(file) {
  const boxes = await topBoxes(file);
  const moov = boxes.find((b) => b.type === "moov");
  if (!moov) return { unsupported: "no moov box" };
  const fragmented = boxes.some((b) => b.type === "moof");
  const { createFile, DataStream, Endianness, MP4BoxBuffer } = await import("./mp4box.js");
  const mp4 = createFile(false); // the mdat boxes' data is dropped as it is parsed
  let parseError = null;
  mp4.onError = (e) => {
    parseError = e;
  };
  if (fragmented) {
    // the index is spread over the moof boxes: the whole file goes through the parser,
    // READ_BYTES at a time (a browser's MediaRecorder, a screen recorder)
    for (let pos = 0; pos < file.size && !parseError; pos += READ_BYTES) {
      const buf = await file.slice(pos, pos + READ_BYTES).arrayBuffer();
      mp4.appendBuffer(MP4BoxBuffer.fromArrayBuffer(buf, pos), pos + READ_BYTES >= file.size);
    }
    mp4.flush();
  } else {
    // ftyp and moov handed over as one buffer, as if they were the whole file: the sample
    // offsets the moov box holds are the file's own, wherever the box lies
    const ftyp = boxes.find((b) => b.type === "ftyp");
    const parts = await Promise.all((ftyp ? [ftyp, moov] : [moov]).map((b) => file.slice(b.start, b.end).arrayBuffer()));
    const buf = await new Blob(parts).arrayBuffer();
    mp4.appendBuffer(MP4BoxBuffer.fromArrayBuffer(buf, 0), true);
  }
  if (parseError || !mp4.moov) return { unsupported: `MP4 index unreadable (${parseError})` };
  const info = mp4.getInfo();
  const track = info.videoTracks && info.videoTracks[0];
  if (!track) return { unsupported: "no video track" };
  const trak = mp4.getTrackById(track.id);
  const samples = trak.samples || [];
  const count = samples.length;
  if (!count) return { unsupported: "no samples" };
  let ticks = 0;
  let counted = 0;
  if (fragmented) {
    for (const sample of samples) ticks += sample.duration || 0;
    counted = count;
  } else {
    const stts = trak.mdia.minf.stbl.stts;
    for (let i = 0; i < stts.sample_counts.length; i++) {
      ticks += stts.sample_counts[i] * stts.sample_deltas[i];
      counted += stts.sample_counts[i];
    }
  }
  const timescale = trak.mdia.mdhd.timescale;
  const offset = new Float64Array(count);
  const size = new Uint32Array(count);
  const key = new Uint8Array(count);
  const cts = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const s = samples[i];
    offset[i] = s.offset;
    size[i] = s.size;
    key[i] = s.is_sync ? 1 : 0;
    cts[i] = s.cts;
  }
  const entry = trak.mdia.minf.stbl.stsd.entries[0];
  const avcC = entry.avcC;
  return {
    container: "mp4",
    codec: track.codec,
    description: description(entry, DataStream, Endianness),
    // H.264 packets are length-prefixed NAL units: decode.js reads their headers
    nalLength: avcC ? avcC.lengthSizeMinusOne + 1 : 0,
    codedWidth: track.video ? track.video.width : track.track_width,
    codedHeight: track.video ? track.video.height : track.track_height,
    rate: ticks > 0 ? (counted * timescale) / ticks : 0,
    duration: info.duration && info.timescale ? info.duration / info.timescale : ticks / timescale,
    count,
    offset,
    size,
    key,
    rank: ranks(cts),
  };
}

/**
 * The first video track of `file` (a Blob), or { unsupported: reason } when this page
 * cannot demux it (the caller then plays it in a <video> element instead).
 */
export async function demux(file) {
  const head = await bytes(file, 0, Math.min(file.size, 64));
  const kind = sniff(head);
  if (kind === "mp4") return demuxMp4(file);
  if (kind === "webm") {
    const { demuxWebm } = await import("./webm.js");
    return demuxWebm(file);
  }
  return { unsupported: "not MP4 or WebM" };
}
