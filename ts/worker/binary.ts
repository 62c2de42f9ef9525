/**
 * Binary data as frames of its message (docs/protocol.md, "Binary frames"): each Buffer or Uint8Array inside a
 * request leaves as a ZeroMQ frame of its own after the JSON frame, which names it with a `bytes` tag whose value
 * is the frame's index; the JSON frame then ends with `,"binaryFrames":N}`, so a receiver finds the count from the
 * frame's last bytes without decoding it, and several requests can still share one ZeroMQ message.
 */
import { CONTRACT } from "../protocol.js";

const { tagKey: TAG, binaryFramesKey: KEY } = CONTRACT.values;
const TAIL = new RegExp(`,"${KEY}":(\\d{1,9})\\}$`);
const TAIL_BYTES = KEY.length + 16;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** The binary frames of the message being stringified (JSON.stringify is synchronous: one at a time). */
let collecting: Buffer[] | undefined;

/** A Uint8Array on its way out: stands where it sat in the arguments until JSON.stringify reaches it. */
export class OutgoingBytes {
  readonly bytes: Buffer;

  constructor(view: Uint8Array) {
    // A view of the same memory, not a copy: a subarray sends only its own bytes.
    this.bytes = Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  }

  toJSON(): Record<string, string> {
    if (!collecting) throw new TypeError("binary data is only encoded by pyleash's framing");
    collecting.push(this.bytes);
    return { [TAG]: "bytes", value: String(collecting.length - 1) };
  }
}

/** `JSON.stringify(message)` as the message's frames: the JSON frame, then one frame per OutgoingBytes in it. */
export function stringifyToFrames(message: unknown): Buffer[] {
  const binary: Buffer[] = [];
  const outer = collecting;
  collecting = binary;
  let text: string;
  try {
    text = JSON.stringify(message);
  } finally {
    collecting = outer;
  }
  if (binary.length === 0) return [Buffer.from(text)];
  return [Buffer.from(`${text.slice(0, -1)},"${KEY}":${binary.length}}`), ...binary];
}

/** How many binary frames follow this JSON frame: read from its last bytes (a digit before the final brace). */
export function binaryCount(frame: Buffer): number {
  const digit = frame[frame.length - 2];
  if (digit === undefined || digit < DIGIT_0 || digit > DIGIT_9) return 0;
  const match = TAIL.exec(frame.toString("latin1", Math.max(0, frame.length - TAIL_BYTES)));
  return match ? Number(match[1]) : 0;
}

/** The reviver for a `bytes` tag: the binary frame it names, as it came (no copy). */
export function bytesFrom(text: string, binary: readonly Buffer[]): Buffer {
  const index = /^\d{1,9}$/.test(text) ? Number(text) : -1;
  const frame = binary[index];
  if (!frame) throw new TypeError(`a bytes tag names binary frame ${JSON.stringify(text.slice(0, 20))} of ${binary.length}`);
  return frame;
}

export const BINARY_FRAMES_KEY = KEY;
