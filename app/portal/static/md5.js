// MD5 (RFC 1321) of bytes, because the browser's crypto.subtle has no MD5. hashbank
// stores MD5 only to match exact copies that other hash lists identify by MD5; it is
// not used for any security purpose.

import { BlockHash } from "./blockhash.js";

// Per-round left rotations and the sine-derived constants K[i] = floor(|sin(i + 1)| 2^32).
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0;

function compress(state, words) {
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  for (let i = 0; i < 64; i++) {
    let f;
    let g;
    const round = i >> 4;
    if (round === 0) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (round === 1) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (round === 2) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const s = SHIFTS[(round << 2) | (i & 3)];
    const sum = (a + f + K[i] + words[g]) | 0;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
}

/**
 * Incremental MD5: `update()` with the bytes in as many pieces as wanted (a video read
 * in chunks with File.slice), then `hex()` (blockhash.js).
 */
export class Md5 extends BlockHash {
  constructor() {
    super(true);
    this.state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
    this.words = new Int32Array(16);
  }

  block(view, off) {
    for (let w = 0; w < 16; w++) this.words[w] = view.getInt32(off + w * 4, true);
    compress(this.state, this.words);
  }

  digest() {
    const out = new DataView(new ArrayBuffer(16));
    for (let i = 0; i < 4; i++) out.setInt32(i * 4, this.state[i], true);
    let hex = "";
    for (let i = 0; i < 16; i++) hex += out.getUint8(i).toString(16).padStart(2, "0");
    return hex;
  }
}

/** MD5 of a Uint8Array, as 32 lowercase hex characters. */
export function md5(bytes) {
  return new Md5().update(bytes).hex();
}
