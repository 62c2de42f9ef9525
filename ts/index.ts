/** pyleash: run Python work from TypeScript over ZeroMQ and stop it by every known means. */
export { Worker, type Ping, type Health } from "./worker/worker.js";
export type { WorkerOptions, CallOptions, WaitOptions, StreamOptions } from "./worker/options.js";
export { Stream } from "./worker/stream.js";
export type { MapOptions, MapResult } from "./worker/map.js";
export type { Progress, ProgressListener } from "./task/progress.js";
export { Task, type TaskStatus } from "./task/task.js";
export type { StartOptions, StopOptions, Strategy, TaskKind } from "./task/options.js";
export type { Lane } from "./protocol.js";
export type { StopReport, StopOutcome, StopStep, Frame, ThreadInfo, AbandonedWork } from "./task/report.js";
export {
  PyleashError,
  PythonNotFoundError,
  PythonVersionError,
  PythonError,
  TargetNotFoundError,
  TargetNotAllowedError,
  ResultNotSerializableError,
  ProtocolError,
  WorkerCrashedError,
  WorkerLostError,
  WorkerStartError,
  WorkerClosedError,
  WorkerRestartedError,
  AbortError,
  InvalidArgumentError,
  UnsupportedValueError,
  MessageTooLargeError,
  QueueFullError,
  WorkerCrashLoopError,
  TaskStoppedError,
  InitializerError,
  ERROR_CODES,
  type ErrorCode,
} from "./errors.js";
export { findAllPythons, probePython, locatePython, resolvePythons } from "./python/discover.js";
export type { PythonInfo } from "./python/discover.js";
export { Pool, type PoolCrash, type PoolEvents, type PoolLost, type BroadcastResult } from "./pool/pool.js";
export type { ListenOptions } from "./pool/listener.js";
export type { RayLauncher } from "./pool/ray.js";
export type { PoolOptions, PoolInitializer } from "./pool/options.js";
export type { PoolWorkerInfo, PoolWorkerState } from "./pool/slot.js";
