// Live rate charts: uPlot (vendor/uplot), fed by readings the page takes every few seconds; the last ten minutes are kept.

const keep = 10 * 60;
const series = [
  { label: 'Published', stroke: '#2457c5' },
  { label: 'Delivered', stroke: '#18794e' },
  { label: 'Acked', stroke: '#7a5af8' },
  { label: 'Dead-lettered', stroke: '#b42318' },
];

// Readings by chart key (the overview, a queue), kept while the console is open so a page shows its history on return.
const histories = new Map();

/** Rates computed from successive counter readings, so every chart works with any number of consoles polling. */
export class RateChart {
  constructor(container, title, key) {
    if (!histories.has(key)) histories.set(key, { data: [[], [], [], [], []], last: null });
    this.history = histories.get(key);
    this.data = this.history.data;
    this.container = container;
    this.title = title;
    this.plot = null;
    this.resize = () => this.plot?.setSize({ width: this.width(), height: 220 });
    window.addEventListener('resize', this.resize);
    container.replaceChildren(Object.assign(document.createElement('p'), { className: 'muted', textContent: `${title}: shown from the second reading, a few seconds from now.` }));
    this.draw();
  }

  width() { return Math.max(320, this.container.clientWidth || 800); }

  /** Adds a reading of the counters {published, delivered, acked, deadLettered}. */
  add(counters, at = Date.now() / 1000) {
    const last = this.history.last;
    if (last && at - last.at >= 0.5) {
      const seconds = at - last.at;
      const per = (key) => Math.max(0, (counters[key] - last.counters[key]) / seconds);
      this.data[0].push(at);
      ['published', 'delivered', 'acked', 'deadLettered'].forEach((key, i) => this.data[i + 1].push(per(key)));
      while (this.data[0].length && this.data[0][0] < at - keep) this.data.forEach(column => column.shift());
      this.draw();
    }
    this.history.last = { at, counters };
  }

  draw() {
    this.container.dataset.points = String(this.data[0].length);
    if (this.data[0].length === 0) return;
    if (this.plot) { this.plot.setData(this.data); return; }
    this.container.replaceChildren();
    this.plot = new window.uPlot({
      title: this.title, width: this.width(), height: 220,
      scales: {
        // The readings so far (at least the last minute, at most ten), ending now.
        x: {
          time: true,
          range: (u, min, max) => {
            const end = Math.max(Number.isFinite(max) ? max : 0, Date.now() / 1000);
            return [Math.max(end - keep, Math.min(Number.isFinite(min) ? min : end, end - 60)), end];
          },
        },
        y: { range: (u, min, max) => [0, Math.max(1, Number.isFinite(max) ? max : 0)] },
      },
      axes: [{}, { label: 'msg/s', size: 60 }],
      series: [{}, ...series.map(s => ({ ...s, width: 2, value: (u, v) => v === null || v === undefined ? '–' : `${v.toFixed(1)}/s` }))],
    }, this.data, this.container);
  }

  destroy() {
    window.removeEventListener('resize', this.resize);
    this.plot?.destroy();
  }
}
