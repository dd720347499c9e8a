// Time-series charts drawn on a canvas, with a hover guide.
import { append, clear, h } from './dom.js';
import { fmtNum } from './format.js';

const COLORS = ['#2563eb', '#f59e0b', '#ef4444', '#10b981'];

// chartCard is a card holding one time-series chart, drawn on a canvas by drawChart.
export function chartCard(id, title, unit, lines, opts) {
  opts = opts || {};
  const canvas = h('canvas', { id, testid: id, 'aria-label': title + ' over time', role: 'img' });
  const now = h('div', { class: 'now' });
  const legend = lines.length > 1 ? h('div', { class: 'legend' }, lines.map((l, i) => h('span', null, h('i', { class: 'c' + (l.color !== undefined ? l.color : i) }), l.label))) : null;
  const el = h('div', { class: 'chart-card', testid: id + '-card' },
    h('div', { class: 'chart-head' }, h('h3', null, title), now), canvas, legend);
  let series = [];
  let emptyText = 'No data yet';
  let hover = null;
  const redraw = () => drawChart(canvas, series, { unit, max: opts.max, empty: emptyText, hover });
  canvas.addEventListener('mousemove', (ev) => { hover = ev.offsetX; redraw(); });
  canvas.addEventListener('mouseleave', () => { hover = null; redraw(); });
  return {
    el,
    redraw,
    set(data, emptyMsg) {
      emptyText = emptyMsg;
      series = lines.map((l, i) => ({ label: l.label, color: COLORS[l.color !== undefined ? l.color : i], points: data[i] || [] }));
      const last = series[series.length - 1].points;
      clear(now);
      if (last.length) append(now, [fmtNum(last[last.length - 1].v), unit ? h('small', null, unit === 'ms' ? 'ms ' + series[series.length - 1].label : unit) : null]);
      redraw();
    },
  };
}

// niceStep rounds a grid step up to 1, 2, 2.5 or 5 times a power of ten.
function niceStep(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function drawChart(canvas, series, opts) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 400;
  const hgt = canvas.clientHeight || 180;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  ctx.font = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  const pad = { l: 42, r: 10, t: 10, b: 22 };
  const pw = w - pad.l - pad.r;
  const ph = hgt - pad.t - pad.b;
  const pts = series.flatMap((s) => s.points);
  const top = Math.max(0, ...pts.map((p) => p.v));
  const maxV = opts.max && top <= opts.max ? opts.max : 4 * niceStep((top * 1.1) / 4);

  // grid and y labels
  ctx.strokeStyle = '#eef1f5';
  ctx.fillStyle = '#94a3b8';
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const y = Math.round(pad.t + ph - (ph * i) / 4) + 0.5;
    ctx.beginPath();
    ctx.moveTo(pad.l, y);
    ctx.lineTo(w - pad.r, y);
    ctx.stroke();
    ctx.fillText(fmtAxis((maxV * i) / 4), pad.l - 6, y);
  }
  if (!pts.length) {
    ctx.textAlign = 'center';
    ctx.fillStyle = '#94a3b8';
    ctx.font = '13px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    ctx.fillText(opts.empty || 'No data yet', pad.l + pw / 2, pad.t + ph / 2);
    return;
  }
  let t0 = Math.min(...pts.map((p) => p.t));
  let t1 = Math.max(...pts.map((p) => p.t));
  if (t1 === t0) { t0 -= 60000; t1 += 1000; }
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * pw;
  const y = (v) => pad.t + ph - (Math.min(v, maxV) / maxV) * ph;

  // x labels
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.fillStyle = '#94a3b8';
  const withSeconds = t1 - t0 < 5 * 60000;
  const ticks = Math.max(1, Math.min(5, Math.floor(pw / (withSeconds ? 120 : 100))));
  for (let i = 0; i <= ticks; i++) {
    const t = t0 + ((t1 - t0) * i) / ticks;
    const label = new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: withSeconds ? '2-digit' : undefined });
    ctx.textAlign = i === 0 ? 'left' : i === ticks ? 'right' : 'center';
    ctx.fillText(label, x(t), pad.t + ph + 6);
  }

  // lines, the first series with a soft fill
  series.forEach((s, si) => {
    if (!s.points.length) return;
    const sorted = s.points.slice().sort((a, b) => a.t - b.t);
    ctx.beginPath();
    sorted.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))));
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.8;
    ctx.lineJoin = 'round';
    ctx.stroke();
    if (si === 0 && series.length === 1) {
      ctx.lineTo(x(sorted[sorted.length - 1].t), pad.t + ph);
      ctx.lineTo(x(sorted[0].t), pad.t + ph);
      ctx.closePath();
      const g = ctx.createLinearGradient(0, pad.t, 0, pad.t + ph);
      g.addColorStop(0, hexAlpha(s.color, 0.18));
      g.addColorStop(1, hexAlpha(s.color, 0.01));
      ctx.fillStyle = g;
      ctx.fill();
    }
    if (sorted.length === 1) {
      ctx.fillStyle = s.color;
      ctx.beginPath();
      ctx.arc(x(sorted[0].t), y(sorted[0].v), 3, 0, Math.PI * 2);
      ctx.fill();
    }
  });

  // hover: a guide line and the values nearest to it
  if (opts.hover !== null && opts.hover !== undefined && opts.hover >= pad.l && opts.hover <= w - pad.r) {
    const t = t0 + ((opts.hover - pad.l) / pw) * (t1 - t0);
    const near = series.map((s) => s.points.reduce((best, p) => (!best || Math.abs(p.t - t) < Math.abs(best.t - t) ? p : best), null));
    const ref = near.find(Boolean);
    if (!ref) return;
    const gx = Math.round(x(ref.t)) + 0.5;
    ctx.strokeStyle = '#cbd5e1';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(gx, pad.t);
    ctx.lineTo(gx, pad.t + ph);
    ctx.stroke();
    const lines = [new Date(ref.t).toLocaleTimeString()].concat(series.map((s, i) => near[i] ? s.label + ': ' + fmtNum(near[i].v) + (opts.unit ? ' ' + opts.unit : '') : null).filter(Boolean));
    ctx.font = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    const bw = Math.max(...lines.map((l) => ctx.measureText(l).width)) + 16;
    const bh = lines.length * 15 + 8;
    let bx = gx + 8;
    if (bx + bw > w - pad.r) bx = gx - 8 - bw;
    ctx.fillStyle = 'rgba(15, 23, 42, .88)';
    roundRect(ctx, bx, pad.t + 4, bw, bh, 6);
    ctx.fill();
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    lines.forEach((l, i) => {
      ctx.fillStyle = i === 0 ? '#cbd5e1' : '#fff';
      ctx.fillText(l, bx + 8, pad.t + 8 + i * 15);
    });
    near.forEach((p, i) => {
      if (!p) return;
      ctx.fillStyle = series[i].color;
      ctx.beginPath();
      ctx.arc(x(p.t), y(p.v), 3, 0, Math.PI * 2);
      ctx.fill();
    });
  }
}

function roundRect(ctx, x, y, w, h2, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h2, r);
  ctx.arcTo(x + w, y + h2, x, y + h2, r);
  ctx.arcTo(x, y + h2, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

function hexAlpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return 'rgba(' + (n >> 16) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
}

function fmtAxis(v) {
  if (v >= 1e6) return fmtNum(v / 1e6, 1) + 'M';
  if (v >= 1e3) return fmtNum(v / 1e3, 1) + 'k';
  return fmtNum(v, 2);
}
