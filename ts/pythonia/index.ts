/** pyleash/pythonia: put a leash on an existing pythonia bridge and rescue its hung calls (docs/pythonia.md). */
export { leash, Leash, CallTimeoutError } from "./leash.js";
export type { LeashOptions, LeashStopOptions, StackOptions, StackSnapshot, PythoniaImport } from "./leash.js";
export type { StopReport, StopOutcome, StopStep, Frame, ThreadInfo } from "../task/report.js";
