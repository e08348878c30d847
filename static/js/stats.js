// Numbers of one run: time to first byte, counts, per-message latency percentiles, and a
// seq check that tells lost from repeated messages.

// Receive time on the same clock as the server's `ts` (Unix epoch ms), with sub-ms precision:
// Date.now() alone is whole milliseconds.
export const nowEpochMs = () => performance.timeOrigin + performance.now();

export class RunStats {
  constructor() {
    this.reset();
  }

  reset() {
    this.startedAt = performance.now();
    this.ttfbMs = null;
    this.messages = 0;
    this.bytes = 0;
    this.reads = 0;
    this.lost = 0;
    this.duplicates = 0;
    this.nextSeq = 0;
    this.lastSeq = null;
    this.latencies = [];
    this.points = []; // [ms since start, value] for the plot
    this.sorted = null; // cache of sorted latencies; null when stale
    this.sortedAt = 0;
  }

  elapsedMs() {
    return performance.now() - this.startedAt;
  }

  firstByte() {
    if (this.ttfbMs === null) this.ttfbMs = this.elapsedMs();
  }

  read(byteCount) {
    this.firstByte();
    this.reads += 1;
    this.bytes += byteCount;
  }

  // One message: check its seq against the one expected, record its latency.
  message(seq, ts) {
    this.messages += 1;
    if (Number.isInteger(seq)) {
      if (seq < this.nextSeq) this.duplicates += 1;
      else {
        this.lost += seq - this.nextSeq;
        this.nextSeq = seq + 1;
      }
      this.lastSeq = seq;
    }
    if (typeof ts === "number") {
      const latency = nowEpochMs() - ts;
      this.latencies.push(latency);
      this.points.push([this.elapsedMs(), latency]);
      this.sorted = null;
    }
  }

  // p50/p95/max, re-sorted at most every 250 ms (a million samples sort in ~100 ms).
  percentiles(force = false) {
    const n = this.latencies.length;
    if (!n) return null;
    const stale = this.sorted === null || this.sorted.length !== n;
    if (stale && (force || performance.now() - this.sortedAt > 250 || n < 2000)) {
      this.sorted = Float64Array.from(this.latencies).sort();
      this.sortedAt = performance.now();
    }
    const s = this.sorted;
    if (!s) return null;
    const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
    return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1] };
  }
}
