// The page's own open connections to this origin. Over HTTP/1.1 a browser opens at most six
// per origin; a seventh request just waits in the browser's queue, which would look like a
// frozen stream. So the page counts what it opens and refuses what would not fit.

export class ConnectionBudget {
  constructor(limit, onChange) {
    this.limit = limit;
    this.open = 0;
    this.onChange = onChange;
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
      },
    };
  }
}
