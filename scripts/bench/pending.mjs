/**
 * A measurement that cannot run yet: it reports `null` and says why. Each pending figure has its own module
 * (stop-latency.mjs, killable-overhead.mjs, blocked-stop.mjs); making one real means replacing that module's
 * export with a section like calls.mjs's: `{ key, title, async run(ctx) { return { value, detail, method } } }`.
 */
export function pendingSection(key, title, note) {
  return {
    key,
    title,
    pending: note,
    async run() {
      return { value: null, pending: note };
    },
  };
}
