// What MD5 and SHA-256 share: both hash 64-byte blocks (Merkle-Damgard) and pad the
// last one alike, told apart only by the byte order of the words and of the length.
// A subclass gives `block(view, offset)` (one compression) and `digest()`; this class
// feeds it blocks as bytes come in pieces, keeping only the last partial block, so a
// video read in chunks (File.slice) never sits in memory whole.

export class BlockHash {
  /** @param {boolean} littleEndian MD5's byte order (true) or SHA-256's (false). */
  constructor(littleEndian) {
    this.littleEndian = littleEndian;
    this.pending = new Uint8Array(64);
    this.held = 0; // bytes waiting in `pending`
    this.length = 0; // bytes seen
  }

  /** Add bytes (a Uint8Array); returns this. */
  update(bytes) {
    this.length += bytes.length;
    let off = 0;
    if (this.held) {
      off = Math.min(64 - this.held, bytes.length);
      this.pending.set(bytes.subarray(0, off), this.held);
      this.held += off;
      if (this.held < 64) return this;
      this.block(new DataView(this.pending.buffer), 0);
      this.held = 0;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (; off + 64 <= bytes.length; off += 64) this.block(view, off);
    this.pending.set(bytes.subarray(off));
    this.held = bytes.length - off;
    return this;
  }

  /** The digest as lowercase hex (call once, after the last update). */
  hex() {
    // The tail: the last bytes, a 0x80 byte, zeros, then the length in bits (64 bits).
    const n = this.length;
    const tail = new Uint8Array(n % 64 < 56 ? 64 : 128);
    tail.set(this.pending.subarray(0, this.held));
    tail[this.held] = 0x80;
    const view = new DataView(tail.buffer);
    const bits = n * 8;
    const low = bits >>> 0;
    const high = Math.floor(bits / 4294967296);
    const le = this.littleEndian;
    view.setUint32(tail.length - 8, le ? low : high, le);
    view.setUint32(tail.length - 4, le ? high : low, le);
    for (let off = 0; off < tail.length; off += 64) this.block(view, off);
    return this.digest();
  }
}
