/** Task helpers for the tests: the same wait the experiments use, from the library's side (not the experiments'). */
export { reached } from "../../ts/util/reached.js";
