/**
 * A call that an abort or a timeout stops in Python: the agent records it as a task while it runs, and the same
 * stop as `task.stop()` reaches it; the caller's AbortError carries the StopReport.
 */
import { type AbortError, PythonError, TaskStoppedError } from "../errors.js";
import type { Lane } from "../protocol.js";
import type { TaskHost } from "../task/host.js";
import { notify, progressOf } from "../task/progress.js";
import type { StopReport } from "../task/report.js";
import { type StopSubject, stopTask } from "../task/stop.js";
import { type Cutoff, cutoffError, onCutoff } from "../util/abort.js";
import type { ResolvedCall } from "./options.js";

export interface CallBody {
  target: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  lane: Lane;
}

/**
 * Run the call as task `id`; on abort or timeout, stop it and reject with an AbortError that says how it went.
 * Until a cutoff comes it costs one promise, the timer or the abort listener, and the request: the stop's
 * bookkeeping is made only when one comes.
 */
export function stoppableCall<T>(host: TaskHost, id: string, body: CallBody, options: ResolvedCall): Promise<T> {
  const { signal, timeoutMs, onProgress } = options;
  // Its updates leave before its reply (the agent sends the last one first), so the route can go once that settles.
  const unlisten = onProgress && host.listen?.(id, (event) => event.type === "progress" && notify(onProgress, progressOf(event)));
  const forget: { drop?: () => void } = {}; // drops the reply's wait once the call is given up: a late answer is discarded
  const reply = host.request({ type: "call", ...body, task: id }, { forget });
  if (unlisten) void reply.then(unlisten, unlisten);
  return new Promise<T>((resolve, reject) => {
    let cut = false;
    const dispose = onCutoff(signal, timeoutMs, "call", (cutoff) => {
      cut = true;
      stopCut(host, id, body, options, reply, cutoff, forget).then(reject, reject);
    });
    reply.then(
      (value) => {
        if (cut) return;
        dispose();
        resolve(value as T);
      },
      (error: unknown) => {
        if (cut) return;
        dispose();
        reject(error);
      },
    );
  });
}

/** The call was cut off while it ran: stop it as a task, and make the AbortError with what the stop found. */
async function stopCut(
  host: TaskHost,
  id: string,
  body: CallBody,
  options: ResolvedCall,
  reply: Promise<unknown>,
  cutoff: Cutoff,
  forget: { drop?: () => void },
): Promise<AbortError> {
  let answered = false;
  const end = (): void => {
    answered = true;
  };
  reply.then(end, end);
  // The agent ends a call it stops with TaskStopped: that is the end a stop waits for.
  const result = reply.then(undefined, (error: unknown) => {
    throw error instanceof PythonError && error.type === "TaskStopped" ? new TaskStoppedError(id, "TaskStopped", undefined) : error;
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
    forget.drop?.();
  }
  return cutoffError(cutoff, stop);
}
