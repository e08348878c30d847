// Numbers of one run: time to first byte, counts, per-message latency percentiles, and a
// seq check that tells lost from repeated messages. Memory stays bounded however long the
// run (a panel may receive a million messages): count, min, max and mean are exact; p50 and
// p95 come from a uniform random sample of at most RESERVOIR_SIZE latencies (exact until
// then); the plot keeps at most MAX_POINTS points, merging neighbours and keeping the slower.

export const RESERVOIR_SIZE = 10_000;
export const MAX_POINTS = 4_000;

// Receive time on the same clock as the server's `ts` (Unix epoch ms), with sub-ms precision:
// Date.now() alone is whole milliseconds.
export const nowEpochMs = () => performance.timeOrigin + performance.now();

export class RunStats {
  // `random` is there so a test can make the reservoir's choices repeatable.
  constructor({ random = Math.random } = {}) {
    this.random = random;
    this.reset();
  }

  reset() {
    this.startedAt = performance.now();
    this.arrival = null; // epoch ms the bytes being handled now arrived, if known
    this.ttfbMs = null;
    this.messages = 0;
    this.bytes = 0;
    this.reads = 0;
    this.lost = 0;
    this.duplicates = 0;
    this.nextSeq = 0;
    this.lastSeq = null;
    // Latency summary: exact.
    this.count = 0;
    this.sum = 0;
    this.min = null;
    this.max = null;
    // Latency sample: Vitter's algorithm R keeps each of the `count` latencies seen so far
    // with the same probability, RESERVOIR_SIZE / count.
    this.latencies = [];
    this.sorted = null; // cache of the sorted sample
    this.dirty = false;
    this.sortedAt = 0;
    // Plot points [ms since start, value]: one per `stride` samples, the slowest of them.
    this.points = [];
    this.stride = 1;
    this.bucket = null;
    this.bucketSize = 0;
  }

  // The bytes handled until arrivedAt(null) came at `epochMs` (stamped by the reader worker),
  // so the numbers do not include the time the page's main thread took to get to them.
  arrivedAt(epochMs) {
    this.arrival = epochMs;
  }

  receivedAt() {
    return this.arrival ?? nowEpochMs();
  }

  elapsedMs() {
    return this.receivedAt() - performance.timeOrigin - this.startedAt;
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
      const latency = this.receivedAt() - ts;
      this.sample(latency);
      this.addPoint(this.elapsedMs(), latency);
    }
  }

  sample(latency) {
    this.count += 1;
    this.sum += latency;
    if (this.min === null || latency < this.min) this.min = latency;
    if (this.max === null || latency > this.max) this.max = latency;
    if (this.latencies.length < RESERVOIR_SIZE) {
      this.latencies.push(latency);
      this.dirty = true;
    } else {
      const slot = Math.floor(this.random() * this.count);
      if (slot < RESERVOIR_SIZE) {
        this.latencies[slot] = latency;
        this.dirty = true;
      }
    }
  }

  addPoint(x, y) {
    if (this.bucket === null || y > this.bucket[1]) this.bucket = [x, y];
    this.bucketSize += 1;
    if (this.bucketSize < this.stride) return;
    this.points.push(this.bucket);
    this.bucket = null;
    this.bucketSize = 0;
    if (this.points.length >= MAX_POINTS) {
      const merged = [];
      for (let i = 0; i < this.points.length; i += 2) {
        const [a, b = a] = [this.points[i], this.points[i + 1]];
        merged.push(b[1] > a[1] ? b : a);
      }
      this.points = merged;
      this.stride *= 2;
    }
  }

  // What the plot draws: the kept points and the bucket still filling.
  plotPoints() {
    return this.bucket ? [...this.points, this.bucket] : this.points;
  }

  // { p50, p95, max, min, mean, count, sampled }, the sample re-sorted at most every 250 ms
  // once it is large; null before the first latency.
  percentiles(force = false) {
    if (!this.count) return null;
    const n = this.latencies.length;
    if (this.dirty && (force || n < 2000 || performance.now() - this.sortedAt > 250)) {
      this.sorted = Float64Array.from(this.latencies).sort();
      this.sortedAt = performance.now();
      this.dirty = false;
    }
    const s = this.sorted;
    if (!s) return null;
    const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
    return {
      p50: at(0.5),
      p95: at(0.95),
      max: this.max,
      min: this.min,
      mean: this.sum / this.count,
      count: this.count,
      sampled: this.count > n,
    };
  }
}
