/** Small timing helpers shared by the worker and the task code. */

/** True if `promise` settles within `ms`, false otherwise; never rejects. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(done, done);
  });
}

/** Milliseconds rounded to the microsecond, as reports carry them. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
