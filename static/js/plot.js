// A small scatter plot on a canvas: y over time since the start of the run. The canvas has a
// fixed CSS height, so drawing never moves the layout. Plots in one PlotGroup share their
// scales, so the panels that race on the same messages can be compared at a glance.

export class PlotGroup {
  constructor() {
    this.plots = new Set();
    this.extent = [1, 0];
  }

  // The widest x and highest y of every member; repaint the others when it grew or shrank.
  update(changed) {
    let maxX = 1;
    let maxY = 0;
    for (const plot of this.plots) {
      maxX = Math.max(maxX, plot.extent[0]);
      maxY = Math.max(maxY, plot.extent[1]);
    }
    const moved = niceCeiling(maxY) !== niceCeiling(this.extent[1]) || maxX !== this.extent[0];
    this.extent = [maxX, maxY];
    if (moved) for (const plot of this.plots) if (plot !== changed) plot.paint();
  }
}

export class Plot {
  constructor(canvas, { color = "#1d4ed8", unit = "ms", group = null } = {}) {
    this.canvas = canvas;
    this.color = color;
    this.unit = unit;
    this.group = group;
    this.points = [];
    this.extent = [1, 0];
    group?.plots.add(this);
  }

  clear() {
    this.draw([]);
  }

  draw(points) {
    let maxX = 1;
    let maxY = 0;
    for (const [x, y] of points) {
      if (x > maxX) maxX = x;
      if (y > maxY) maxY = y;
    }
    this.points = points;
    this.extent = [maxX, maxY];
    this.group?.update(this);
    this.paint();
  }

  paint() {
    const points = this.points;
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    const style = getComputedStyle(canvas);
    const ink = style.getPropertyValue("--plot-ink").trim() || "#666";
    ctx.font = `${11 * ratio}px system-ui, sans-serif`;
    ctx.fillStyle = ink;
    ctx.strokeStyle = style.getPropertyValue("--plot-grid").trim() || "#ddd";
    ctx.lineWidth = ratio;
    const top = 14 * ratio;
    const bottom = height - 2 * ratio;
    ctx.beginPath();
    ctx.moveTo(0, bottom + 0.5);
    ctx.lineTo(width, bottom + 0.5);
    ctx.stroke();
    if (!points.length) {
      ctx.fillText("no data yet", 4 * ratio, top - 2 * ratio);
      return;
    }
    const [maxX, maxY] = this.group ? this.group.extent : this.extent;
    const ceiling = niceCeiling(maxY);
    const label = `${formatNumber(ceiling)} ${this.unit}`;
    ctx.fillText(label, 4 * ratio, top - 3 * ratio);
    ctx.beginPath();
    ctx.setLineDash([3 * ratio, 3 * ratio]);
    ctx.moveTo(0, top + 0.5);
    ctx.lineTo(width, top + 0.5);
    ctx.stroke();
    ctx.setLineDash([]);
    // Thin the points to about one per pixel column: a long run stays cheap to draw.
    const step = Math.max(1, Math.floor(points.length / width));
    const size = 2 * ratio;
    ctx.fillStyle = this.color;
    for (let i = 0; i < points.length; i += step) {
      const [x, y] = points[i];
      const px = (x / maxX) * (width - size);
      const py = bottom - (Math.max(0, y) / ceiling) * (bottom - top) - size / 2;
      ctx.fillRect(px, py, size, size);
    }
  }
}

function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * power >= value) return m * power;
  return 10 * power;
}

export function formatNumber(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(digits);
}
