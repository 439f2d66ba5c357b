// Small SVG charts drawn with DOM calls (no inline styles, so the page's CSP holds).

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

// A line of values from -1 to 1 (sentiment per user turn) with a zero line and a dot per
// point. `label` is the accessible description.
export function sentimentChart(points, label) {
  const width = 240;
  const height = 60;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart sentiment',
                             role: 'img', 'aria-label': label });
  chart.append(svg('line', { x1: 0, y1: height / 2, x2: width, y2: height / 2, class: 'axis' }));
  const xs = (i) => (points.length === 1 ? width / 2 : 8 + (i * (width - 16)) / (points.length - 1));
  const ys = (v) => height / 2 - (Math.max(-1, Math.min(1, v)) * (height / 2 - 6));
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${xs(i).toFixed(1)},${ys(p.value).toFixed(1)}`);
  if (points.length > 1) chart.append(svg('path', { d: path.join(' '), class: 'line' }));
  points.forEach((p, i) => {
    const dot = svg('circle', { cx: xs(i), cy: ys(p.value), r: 3.5,
                                class: p.value < -0.3 ? 'dot bad' : p.value > 0.3 ? 'dot good' : 'dot' });
    const title = svg('title');
    title.textContent = p.title;
    dot.append(title);
    chart.append(dot);
  });
  return chart;
}

// Horizontal bars: [{label, value}] scaled to the largest value.
export function barChart(items, label, format = (v) => String(v)) {
  const rowHeight = 22;
  const width = 420;
  const labelWidth = 170;
  const height = Math.max(rowHeight, items.length * rowHeight);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart bars', role: 'img',
                             'aria-label': label });
  const max = Math.max(1e-9, ...items.map((i) => i.value));
  items.forEach((item, row) => {
    const y = row * rowHeight;
    const name = svg('text', { x: 0, y: y + 15, class: 'bar-label' });
    name.textContent = item.label;
    const length = ((width - labelWidth - 50) * item.value) / max;
    const bar = svg('rect', { x: labelWidth, y: y + 4, width: Math.max(1, length), height: 14, class: 'bar' });
    const value = svg('text', { x: labelWidth + length + 6, y: y + 15, class: 'bar-value' });
    value.textContent = format(item.value);
    chart.append(name, bar, value);
  });
  return chart;
}

// Vertical columns per day: [{label, value}] with values from 0 to 1.
export function columnChart(items, label) {
  const width = 420;
  const height = 120;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart columns', role: 'img',
                             'aria-label': label });
  const step = items.length ? width / items.length : width;
  items.forEach((item, i) => {
    const h = Math.max(1, (height - 20) * Math.max(0, Math.min(1, item.value)));
    const bar = svg('rect', { x: i * step + 2, y: height - 16 - h, width: Math.max(2, step - 4), height: h,
                              class: 'bar' });
    const title = svg('title');
    title.textContent = `${item.label}: ${(item.value * 100).toFixed(0)} %`;
    bar.append(title);
    chart.append(bar);
    if (items.length <= 14 || i % Math.ceil(items.length / 7) === 0) {
      const text = svg('text', { x: i * step + step / 2, y: height - 3, class: 'col-label' });
      text.textContent = item.label.slice(5);
      chart.append(text);
    }
  });
  return chart;
}
