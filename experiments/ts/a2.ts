/** Article 002: what a killed thread leaves behind, kill on a thread id, signals, terminate_thread as printed. */
import { define, type Experiment } from "./types.js";

const MOD = "pyleash_experiments.a2";

interface LockKill {
  killed: boolean;
  setAsyncExcResult: number;
  lockFreeAfterKill: boolean;
}

export const lockNotReleased = define<{ bareAcquire: LockKill; withLock: LockKill }, Record<string, never>>({
  id: "a2-lock-not-released",
  article: "002",
  claim: {
    quote: "请记住一点,锁资源不会因为线程退出而释放锁资源 !",
    gloss: "A thread killed while holding a lock does not release it.",
  },
  method:
    "In the agent: a thread takes a Lock with bare acquire() (release() after its work), another inside `with lock:`; each " +
    "is killed mid-work with PyThreadState_SetAsyncExc(c_long(ident), SystemExit); then acquire(timeout=0.2) tells whether the lock is free.",
  params: { quick: {}, full: {} },
  run: (ctx) => ctx.call(`${MOD}:lock_not_released`),
  judge(f) {
    if (!f.bareAcquire.killed) return { verdict: "n/a", evidence: "The bare-acquire thread was not killed." };
    const evidence =
      `Bare acquire(): lock ${f.bareAcquire.lockFreeAfterKill ? "free" : "still held"} after the kill; ` +
      `\`with lock:\`: lock ${f.withLock.lockFreeAfterKill ? "released" : "still held"}.`;
    return { verdict: f.bareAcquire.lockFreeAfterKill ? "fails" : "holds", evidence };
  },
  key: (f) => `bare: ${f.bareAcquire.lockFreeAfterKill ? "freed" : "held"}; with: ${f.withLock.lockFreeAfterKill ? "freed" : "held"}`,
});

interface QueueLost {
  put: number;
  taken: string[];
  done: string[];
  leftInQueue: string[];
  unfinishedTasks: number;
  consumerDead: boolean;
}

export const queueItemLost = define<QueueLost, Record<string, never>>({
  id: "a2-queue-item-lost",
  article: "002",
  claim: {
    quote: "消费者从任务队列获取任务,但是被干掉后没有把正在做的任务丢回队列中,那么这就造成了数据丢失。",
    gloss: "A consumer killed mid-task loses the item it was working on.",
  },
  method:
    "In the agent: a queue.Queue of 3 items; the consumer takes one and is killed (SetAsyncExc) while working on it; then the queue is drained.",
  params: { quick: {}, full: {} },
  run: (ctx) => ctx.call(`${MOD}:queue_item_lost`),
  judge(f) {
    const item = f.taken[0];
    if (!f.consumerDead || item === undefined) return { verdict: "n/a", evidence: "The consumer was not killed mid-task." };
    const lost = !f.done.includes(item) && !f.leftInQueue.includes(item);
    const evidence =
      `${item} was taken, ${f.done.includes(item) ? "finished" : "never finished"}, and is ${f.leftInQueue.includes(item) ? "back in" : "not in"} the queue ` +
      `(left: ${f.leftInQueue.join(", ") || "none"}; unfinished_tasks ${f.unfinishedTasks}, so q.join() would wait forever).`;
    return { verdict: lost ? "holds" : "fails", evidence };
  },
  key: (f) => `${f.put - f.leftInQueue.length - f.done.length} lost`,
});

interface KillTid {
  noHandler: { targetTid?: number; processDied?: boolean; signal?: string | null; handledBy?: string | null; error?: string };
  withHandler: { targetTid?: number; processDied?: boolean; signal?: string | null; handledBy?: string | null; error?: string };
}

export const killThreadId = define<KillTid, Record<string, never>>({
  id: "a2-kill-thread-id-kills-process",
  article: "002",
  claim: {
    quote: "切记不要在外部杀掉python的某个线程,虽然你能通过ctypes找到线程id,但是你直接kill会干掉整个进程的。",
    gloss: "Sending kill (SIGTERM) to a thread's id kills the whole process; a handler keeps it alive.",
  },
  method:
    "A sacrificial child prints a non-main thread's native id; the agent sends os.kill(tid, SIGTERM), as `kill <tid>` " +
    "would. Again with a SIGTERM handler installed, recording which thread runs it.",
  params: { quick: {}, full: {} },
  run: (ctx) => ctx.call(`${MOD}:kill_thread_id`),
  judge(f) {
    if (f.noHandler.error || f.noHandler.processDied === undefined)
      return { verdict: "n/a", evidence: f.noHandler.error ?? "Not measured." };
    const evidence =
      `kill of thread ${f.noHandler.targetTid}: the process ${f.noHandler.processDied ? `died (${f.noHandler.signal})` : "survived"}. ` +
      `With a handler: the process ${f.withHandler.processDied ? "died" : "survived"}, handler ran on ${f.withHandler.handledBy ?? "–"}.`;
    return { verdict: f.noHandler.processDied ? "holds" : "fails", evidence };
  },
  key: (f) => (f.noHandler.processDied ? `process died (${f.noHandler.signal})` : "process survived"),
});

interface HandlerCall {
  target: string;
  handler: { thread: string; signum: number; frame: string | null } | null;
}

export const signalAnyThread = define<{ tids: Record<string, number>; calls: HandlerCall[] }, Record<string, never>>({
  id: "a2-signal-any-thread",
  article: "002",
  claim: {
    quote: "通过信号函数不能识别你要干掉哪一个线程,也就是说,不能精准的干掉某个线程。",
    gloss: "A signal aimed at one thread is handled by the main thread; the handler cannot tell which thread was meant.",
  },
  method:
    "A sacrificial child with threads A and B and a SIGUSR1 handler; the agent sends SIGUSR1 to A's and then B's native id " +
    "(os.kill). Each handler call records its thread, the signal number and the frame it interrupted.",
  params: { quick: {}, full: {} },
  run: (ctx) => ctx.call(`${MOD}:signal_any_thread`),
  judge(f) {
    const handlers = f.calls.map((c) => c.handler);
    if (handlers.length < 2 || handlers.some((h) => h === null)) return { verdict: "n/a", evidence: "Not every signal reached a handler." };
    const [a, b] = handlers as NonNullable<HandlerCall["handler"]>[];
    const allMain = handlers.every((h) => h!.thread === "MainThread");
    const same = a!.signum === b!.signum && a!.frame === b!.frame && a!.thread === b!.thread;
    const evidence =
      f.calls
        .map((c) => `aimed at ${c.target}: ran on ${c.handler!.thread} with (${c.handler!.signum}, frame ${c.handler!.frame})`)
        .join("; ") + `. The two calls are ${same ? "indistinguishable" : "distinguishable"}.`;
    return { verdict: allMain && same ? "holds" : "fails", evidence };
  },
  key: (f) => f.calls.map((c) => `${c.target}→${c.handler?.thread ?? "–"}`).join(", "),
});

interface IsAlive {
  ran: boolean;
  error: string | null;
  threadStopped: boolean;
  hasIsAlive: boolean;
  warnings: string[];
}

export const isAlive = define<IsAlive, Record<string, never>>({
  id: "a2-isalive",
  article: "002",
  claim: {
    quote: "下面的代码是 用ctypes 杀掉线程的样例 … if not thread.isAlive(): return",
    gloss: "The article's terminate_thread (which calls thread.isAlive()) kills a running thread.",
  },
  method: "In the agent: the article's terminate_thread, verbatim, against a busy thread; then join(2).",
  params: { quick: {}, full: {} },
  run: (ctx) => ctx.call(`${MOD}:isalive`),
  judge(f) {
    const evidence = f.ran
      ? `terminate_thread ran${f.warnings.length ? ` (${f.warnings[0]})` : ""}; the thread ${f.threadStopped ? "stopped" : "kept running"}.`
      : `terminate_thread raised ${f.error}.`;
    return { verdict: f.ran && f.threadStopped ? "holds" : "fails", evidence };
  },
  key: (f) => (f.ran ? (f.threadStopped ? "ran, stopped" : "ran, alive") : (f.error ?? "error").split(":")[0]!),
});

interface CtypesIdent {
  ident: number;
  identAbove32Bits: boolean;
  cLongResult: number;
  bareIdentResult: number | null;
  bareIdentError: string | null;
}

export const ctypesIdent = define<CtypesIdent, Record<string, never>>({
  id: "a2-ctypes-ident",
  article: "002",
  claim: {
    quote:
      "如果非要强制杀掉线程,那么可以用python ctypes PyThreadState SetAsyncExc 方法强制退出 … " +
      "PyThreadState_SetAsyncExc(ctypes.c_long(thread.ident), exc) … PyThreadState_SetAsyncExc(thread.ident, None)",
    gloss: "The article's two calls — c_long(ident) on the main path, the bare thread.ident on the error path — both reach the thread.",
  },
  method:
    "In the agent: both calls with exc=None (which only clears a pending exception) against a live thread; each returns how " +
    "many thread states it matched (1 = found, 0 = not found).",
  params: { quick: {}, full: {} },
  run: (ctx) => ctx.call(`${MOD}:ctypes_ident`),
  judge(f) {
    const ok = f.cLongResult === 1 && f.bareIdentResult === 1;
    const evidence =
      `c_long(ident) matched ${f.cLongResult} thread state(s); the bare ident ${f.bareIdentError ? `raised ${f.bareIdentError}` : `matched ${f.bareIdentResult}`}` +
      `${f.identAbove32Bits ? ` (ident ${f.ident} needs more than 32 bits; ctypes passes a bare int as a C int)` : ""}.`;
    return { verdict: ok ? "holds" : "fails", evidence };
  },
  key: (f) => `c_long→${f.cLongResult}, bare→${f.bareIdentResult ?? "error"}`,
});

export const experiments: Experiment[] = [lockNotReleased, queueItemLost, killThreadId, signalAnyThread, isAlive, ctypesIdent];
