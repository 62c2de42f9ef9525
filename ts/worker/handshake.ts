/** Start-up: wait for the agent's hello, check its token and protocol, or say why it never came (any lifecycle's hello). */
import { timingSafeEqual } from "node:crypto";
import { PythonNotFoundError, PythonVersionError, type PyleashError, WorkerStartError } from "../errors.js";
import { CONTRACT, type Hello, PROTOCOL_VERSION } from "../protocol.js";
import { decode } from "./framing.js";
import type { AgentProcess } from "./agent-process.js";

/** Resolves with the agent's peer id and hello, or rejects with why the agent did not connect in time. */
export async function waitForHello(
  agent: AgentProcess,
  messages: AsyncGenerator<Buffer[]>,
  token: string,
  timeoutMs: number,
  spec: string,
  python: string,
): Promise<{ peer: Buffer; hello: Hello }> {
  const child = agent.child;
  let onError: ((error: NodeJS.ErrnoException) => void) | undefined;
  let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const failure = new Promise<never>((_, reject) => {
    onError = (error) =>
      reject(error.code === "ENOENT" ? new PythonNotFoundError(spec, [python]) : new WorkerStartError(error.message, { cause: error }));
    onExit = (code, signal) => reject(startFailure(python, code, signal, agent.stderrTail()));
    child.once("error", onError);
    child.once("exit", onExit);
    timer = setTimeout(() => {
      const stderr = agent.stderrTail().trim();
      reject(new WorkerStartError(`The Python agent (${python}) did not connect within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
  });
  const hello = helloFrom(messages, token);
  hello.catch(() => {}); // after a failure wins the race, the channel's closing rejects this too
  try {
    return await Promise.race([hello, failure]);
  } finally {
    clearTimeout(timer);
    child.off("error", onError!);
    child.off("exit", onExit!);
  }
}

/** The first hello on the channel that carries our token (any other is not our agent's); rejects if the channel closes first. */
export async function helloFrom(messages: AsyncGenerator<Buffer[]>, token: string): Promise<{ peer: Buffer; hello: Hello }> {
  const expected = Buffer.from(token);
  // Pulled by hand: a for-await loop would close the generator the connection goes on reading.
  for (let next = await messages.next(); !next.done; next = await messages.next()) {
    const [peer, frame] = next.value;
    const message = (peer && frame ? tryDecode(frame) : undefined) as Partial<Hello> | undefined;
    if (message?.type !== "hello" || typeof message.token !== "string") continue;
    const given = Buffer.from(message.token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) continue; // not our agent
    if (message.protocol !== PROTOCOL_VERSION) {
      throw new WorkerStartError(`The agent speaks protocol ${message.protocol}, the controller ${PROTOCOL_VERSION}`);
    }
    return { peer: peer!, hello: message as Hello };
  }
  throw new WorkerStartError("The channel closed before the agent said hello");
}

function startFailure(python: string, code: number | null, signal: NodeJS.Signals | null, stderr: string): PyleashError {
  if (code === CONTRACT.exitCodes.unsupportedPython) return new PythonVersionError(python, /this is (\S+)/.exec(stderr)?.[1] ?? "unknown");
  const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
  return new WorkerStartError(`The Python agent (${python}) ${how} before connecting\n${stderr.trim()}`);
}

export function tryDecode(frame: Buffer, binary: Buffer[] = []): ReturnType<typeof decode> | undefined {
  try {
    return decode(frame, binary);
  } catch {
    return undefined;
  }
}
