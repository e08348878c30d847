// The page's own open connections to this origin. Over HTTP/1.1 a browser opens at most six
// per origin; a seventh request just waits in the browser's queue, which would look like a
// frozen stream. So the page counts what it opens and refuses what would not fit.

export class ConnectionBudget {
  constructor(limit, onChange = () => {}) {
    this.limit = limit;
    this.open = 0;
    this.listeners = [onChange];
    this.waiting = []; // resolve functions of whenFree() calls, first come first served
  }

  // Another function to call with the open count whenever it changes.
  subscribe(listener) {
    this.listeners.push(listener);
    listener(this.open);
  }

  onChange(open) {
    for (const listener of this.listeners) listener(open);
  }

  // A lease to release exactly once (release() is idempotent), or null if none is left.
  acquire() {
    if (this.open >= this.limit) return null;
    this.open += 1;
    this.onChange(this.open);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.open -= 1;
        this.onChange(this.open);
        this.waiting.shift()?.(this.acquire()); // the queue's first takes it at once
      },
    };
  }

  // A lease as soon as one is free: what the browser does with a seventh request (it waits in
  // its queue), made visible. Rejects with the signal's reason if aborted while waiting.
  whenFree(signal) {
    const lease = this.acquire();
    if (lease) return Promise.resolve(lease);
    return new Promise((resolve, reject) => {
      const take = (given) => {
        signal.removeEventListener("abort", leave);
        resolve(given);
      };
      const leave = () => {
        this.waiting = this.waiting.filter((waiter) => waiter !== take);
        reject(signal.reason);
      };
      this.waiting.push(take);
      signal.addEventListener("abort", leave, { once: true });
    });
  }
}

// HTTP/1.1's per-origin limit, the server's CONNECTIONS_PER_ORIGIN (boot() sets it again).
const DEFAULT_LIMIT = 6;
let shared = null;

// The one budget of the whole page: every panel that opens a connection (the mode panels,
// the wire view, the chat and the chat room) draws on it, since they share one origin.
export function pageBudget() {
  shared ??= new ConnectionBudget(DEFAULT_LIMIT);
  return shared;
}
