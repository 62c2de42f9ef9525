/**
 * The floor under bytesRoundTrip: the same bytes through a raw unix socket to the same Python and back, no
 * ZeroMQ, no JSON, no agent. Python receives them straight into a fresh bytes object (as pyleash's built-in client
 * does) and sends that back; Node gathers them into a fresh Buffer. What is left is the kernel's copies and the
 * first touch of fresh memory on each side.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const AGENT_DIR = fileURLToPath(new URL("../../py", import.meta.url));
const ECHO = `
import socket, struct, sys
sys.path.insert(0, sys.argv[1])
from pyleash.transport.fresh_bytes import FreshBytes
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[2])
srv.listen(1)
sys.stdout.write("ready\\n")
sys.stdout.flush()
s, _ = srv.accept()
while True:
    head = b""
    while len(head) < 8:
        more = s.recv(8 - len(head))
        if not more:
            sys.exit(0)
        head += more
    (n,) = struct.unpack(">Q", head)
    frame = FreshBytes(n, b"")
    while frame.want:
        slot = frame.slot()
        if slot is None:
            frame.add(s.recv(min(frame.want, 262144)))
        else:
            frame.filled(s.recv_into(slot, min(frame.want, 262144)))
            slot.release()
    data = frame.result()
    s.sendall(head)
    s.sendall(data)
    data = None
`;

/** `rounds` round trips of `payload`; ms each. */
export async function floorBytesSamples({ python, payload, rounds }) {
  const dir = mkdtempSync(join(tmpdir(), "pyleash-bytes-floor-"));
  const path = join(dir, "echo.sock");
  const child = spawn(python, ["-c", ECHO, AGENT_DIR, path], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await once(child.stdout, "data"); // "ready": it listens
    // Node reads straight into the Buffer the echo is gathered in (onread with a function: no chunk copies): first
    // the 8-byte length, then a fresh Buffer of that size; the switch happens in the callback, before the next read.
    const head = Buffer.alloc(8);
    let into = head;
    let at = 0;
    /** @type {(back: Buffer) => void} */
    let done = () => {};
    const socket = connect({
      path,
      onread: {
        buffer: () => into.subarray(at),
        callback: (n) => {
          at += n;
          if (at < into.length) return true;
          at = 0;
          if (into === head) {
            into = Buffer.allocUnsafe(Number(head.readBigUInt64BE()));
          } else {
            const back = into;
            into = head;
            done(back);
          }
          return true;
        },
      },
    });
    await once(socket, "connect");
    const ms = [];
    const length = Buffer.alloc(8);
    length.writeBigUInt64BE(BigInt(payload.length));
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const echoed = new Promise((resolve) => (done = resolve));
      socket.write(length);
      socket.write(payload);
      const back = await echoed;
      ms.push(performance.now() - t0);
      if (r === 0 && !payload.equals(back)) throw new Error("bytes floor: the echo changed the bytes");
    }
    socket.destroy();
    return ms;
  } finally {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
