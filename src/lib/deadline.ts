// Deadlines on replies from other processes (Redis, the other instances) that a late event loop
// of our own does not trip.
//
// A timer fires in the timers phase of the event loop, sockets are read later in the same turn
// (the poll phase). When this process was stalled past a deadline (a long synchronous task, or a
// 2-core machine lending our CPU to others), the reply has usually been waiting in the socket
// buffer all along, yet the timer runs first and would declare it missing: Redis taken out of
// use, an instance dropped, because of our own delay. So a deadline only counts once the loop has
// polled its sockets after the timer fired: the timer callback defers the verdict with
// setImmediate, which runs in the check phase, right after that poll. A reply that was there by
// then has been handled; one that was not is really late. It costs nothing when the loop is on
// time (one more callback, after the deadline), and unlike a threshold on the measured loop
// delay it has nothing to tune: it asks exactly whether the reply had arrived.

/** A deadline `ms` from now, judged only after the sockets have been read once it passed. */
export function deadline (ms: number): { passed: Promise<void>, cancel: () => void } {
  let timer: NodeJS.Timeout | undefined
  let immediate: NodeJS.Immediate | undefined
  const passed = new Promise<void>(resolve => {
    timer = setTimeout(() => { immediate = setImmediate(resolve) }, ms)
  })
  return {
    passed,
    cancel: () => {
      clearTimeout(timer)
      if (immediate !== undefined) clearImmediate(immediate)
    }
  }
}

/** The result of `work`, or a rejection with `message` if it is not there by the deadline. */
export async function within<T> (work: Promise<T>, ms: number, message: string): Promise<T> {
  const { passed, cancel } = deadline(ms)
  try {
    return await Promise.race([work, passed.then(() => { throw new Error(message) })])
  } finally {
    cancel()
  }
}
