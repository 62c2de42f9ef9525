/**
 * A call that an abort or a timeout stops in Python: the agent records it as a task while it runs, and the same
 * stop as `task.stop()` reaches it; the caller's AbortError carries the StopReport.
 */
import { PythonError, TaskStoppedError } from "../errors.js";
import type { Lane } from "../protocol.js";
import type { TaskHost } from "../task/host.js";
import { notify, progressOf } from "../task/progress.js";
import type { StopReport } from "../task/report.js";
import { type StopSubject, stopTask } from "../task/stop.js";
import { cutoffError, whenCutOff } from "../util/abort.js";
import type { ResolvedCall } from "./options.js";

export interface CallBody {
  target: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  lane: Lane;
}

/** Run the call as task `id`; on abort or timeout, stop it and reject with an AbortError that says how it went. */
export async function stoppableCall<T>(host: TaskHost, id: string, body: CallBody, options: ResolvedCall): Promise<T> {
  const { signal, timeoutMs } = options;
  const forget = new AbortController(); // drops the reply's wait once the call is given up, so a late answer is discarded
  const { onProgress } = options;
  // Its updates leave before its reply (the agent sends the last one first), so the route can go once that settles.
  const unlisten = onProgress && host.listen?.(id, (event) => event.type === "progress" && notify(onProgress, progressOf(event)));
  const reply = host.request({ type: "call", ...body, task: id }, { signal: forget.signal });
  if (unlisten) void reply.then(unlisten, unlisten);
  let answered = false;
  const settled = reply.then(
    (value) => {
      answered = true;
      return { value };
    },
    (error: unknown) => {
      answered = true;
      return { error };
    },
  );
  const trigger = whenCutOff(signal, timeoutMs, "call");
  const first = await Promise.race([settled, trigger.fired]);
  trigger.dispose();
  if ("value" in first) return first.value as T;
  if ("error" in first) throw first.error;

  const cutoff = first;
  // The agent ends a call it stops with TaskStopped: that is the end a stop waits for.
  const result = settled.then((end) => {
    if (!("error" in end)) return end.value;
    throw end.error instanceof PythonError && end.error.type === "TaskStopped" ? new TaskStoppedError(id, "TaskStopped", undefined) : end.error;
  });
  result.catch(() => {});
  const subject: StopSubject = {
    id,
    kind: options.kind,
    target: body.target,
    ident: null,
    get status() {
      return answered ? "finished" : "running";
    },
    get endReported() {
      return answered;
    },
    result,
    markBlocked: () => {},
  };
  let stop: { report?: StopReport; error?: Error };
  try {
    stop = { report: await stopTask(subject, host, options.stop) };
  } catch (error) {
    stop = { error: error as Error };
  } finally {
    forget.abort();
  }
  throw cutoffError(cutoff, stop);
}
