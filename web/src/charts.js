// Small hand-written SVG charts: trend line(s), 7x24 hour-of-week heat chart, horizontal bars.
// Each function returns an SVG string; inputs are plain arrays. Labels are Dutch.
// Also the HTML escaping and the Dutch number formatting the charts and the panels share.

export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

export function fmtNum(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return Number(v).toLocaleString('nl-NL', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * A count as the user sees it: the number, or, when the server withheld it (small-count protection: `null`
 * with a label such as "< 5", ">= 5" or "afgeschermd"), that label; '–' when there is neither.
 */
export function countText(value, label, digits = 0) {
  if ((value === null || value === undefined) && label) return label;
  return fmtNum(value, digits);
}

/** Canvas for measuring axis labels in the page's font (`null` outside a browser). */
let measure;

/**
 * Width in px of axis label `text` (10 px, the charts' font): the larger of a generous estimate (6.5 px per
 * character) and the width the browser measures in the page's font, so labels never overlap in a wider font.
 */
function labelWidth(text) {
  const estimate = text.length * 6.5;
  if (measure === undefined) {
    const canvas = typeof document !== 'undefined' ? document.createElement('canvas') : null;
    measure = canvas && canvas.getContext ? canvas.getContext('2d') : null;
    if (measure) measure.font = `10px ${getComputedStyle(document.body).fontFamily}`;
  }
  return measure ? Math.max(estimate, Math.ceil(measure.measureText(text).width)) : estimate;
}
/** Smallest gap in px between two axis labels. */
const LABEL_GAP = 6;

/**
 * The periods (indices) that get an axis label on an axis `w` px wide (period i at i w / (n - 1); the first
 * label anchored at its start, the last at its end, the others centred): every k-th from the first with the
 * smallest k for which no two labels come closer than LABEL_GAP, plus the last period when its label keeps that
 * distance from the previous one.
 */
export function tickIndices(periods, w) {
  const n = periods.length;
  if (n === 0) return [];
  if (n === 1) return [0];
  const step = w / (n - 1);
  const extent = (i) => {
    const x = i * step;
    const lw = labelWidth(String(periods[i]));
    if (i === 0) return [x, x + lw];
    if (i === n - 1) return [x - lw, x];
    return [x - lw / 2, x + lw / 2];
  };
  const fits = (list) => list.every((i, k) => k === 0 || extent(list[k - 1])[1] + LABEL_GAP <= extent(i)[0]);
  for (let every = 1; every < n; every++) {
    const out = [];
    for (let i = 0; i < n; i += every) out.push(i);
    if (!fits(out)) continue;
    if (out[out.length - 1] !== n - 1 && fits([out[out.length - 1], n - 1])) out.push(n - 1);
    return out;
  }
  return fits([0, n - 1]) ? [0, n - 1] : [0];
}

export const SERIES_COLOURS = ['#1f5fa8', '#d2552b', '#2e8b57', '#8e44ad', '#b8860b', '#555555'];

/**
 * Line chart of one or more series sharing the same periods.
 * `lines`: [{name, points: [{period, count}]}]; width/height in px.
 */
export function trendChart(lines, { width = 320, height = 140, title = 'Verloop' } = {}) {
  const pad = { l: 34, r: 24, t: 18, b: 22 };
  const periods = [];
  for (const l of lines) for (const p of l.points) if (!periods.includes(p.period)) periods.push(p.period);
  periods.sort();
  if (periods.length === 0) return `<p class="leeg">Geen gegevens voor ${esc(title.toLowerCase())}.</p>`;
  const max = Math.max(1, ...lines.flatMap((l) => l.points.map((p) => p.count ?? 0)));
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const x = (i) => pad.l + (periods.length === 1 ? w / 2 : (i * w) / (periods.length - 1));
  const y = (v) => pad.t + h - (v / max) * h;
  let svg = `<svg class="chart trend" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`;
  svg += `<text x="${pad.l}" y="12" class="ct">${esc(title)}</text>`;
  for (const t of [0, max / 2, max]) {
    svg += `<line x1="${pad.l}" x2="${width - pad.r}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`;
    svg += `<text x="${pad.l - 4}" y="${y(t) + 3}" class="ax" text-anchor="end">${fmtNum(t, t % 1 ? 1 : 0)}</text>`;
  }
  for (const i of tickIndices(periods, w)) {
    const p = periods[i];
    const anchor = periods.length > 1 && i === periods.length - 1 ? 'end' : i === 0 && periods.length > 1 ? 'start' : 'middle';
    svg += `<text x="${x(i)}" y="${height - 6}" class="ax" text-anchor="${anchor}">${esc(p)}</text>`;
  }
  lines.forEach((l, li) => {
    const colour = SERIES_COLOURS[li % SERIES_COLOURS.length];
    const byPeriod = new Map(l.points.map((p) => [p.period, p]));
    // A withheld step (small-count protection: count null with a label) breaks the line and gets a hollow
    // marker on the axis whose tooltip is the label; a missing step counts 0.
    const pts = periods.map((p, i) => {
      const pt = byPeriod.get(p);
      const hidden = pt !== undefined && (pt.count === null || pt.count === undefined);
      const v = hidden ? 0 : (pt ? pt.count : 0);
      return { x: x(i), y: y(v), period: p, v, hidden, label: hidden ? (pt.count_label || 'afgeschermd') : null };
    });
    let run = [];
    const flush = () => {
      if (run.length) svg += `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${run.map((q) => `${q.x.toFixed(1)},${q.y.toFixed(1)}`).join(' ')}"/>`;
      run = [];
    };
    for (const q of pts) (q.hidden ? flush() : run.push(q));
    flush();
    for (const q of pts) {
      svg += q.hidden
        ? `<circle class="suppressed" cx="${q.x.toFixed(1)}" cy="${q.y.toFixed(1)}" r="2.5" fill="#fff" stroke="#9e9e9e"><title>${esc(l.name)} ${esc(q.period)}: ${esc(q.label)}</title></circle>`
        : `<circle cx="${q.x.toFixed(1)}" cy="${q.y.toFixed(1)}" r="2.5" fill="${colour}"><title>${esc(l.name)} ${esc(q.period)}: ${fmtNum(q.v)}</title></circle>`;
    }
  });
  svg += '</svg>';
  if (lines.length > 1) {
    svg += '<div class="series-legend">' + lines.map((l, i) => `<span><i style="background:${SERIES_COLOURS[i % SERIES_COLOURS.length]}"></i>${esc(l.name)}</span>`).join('') + '</div>';
  }
  return svg;
}

const DAYS = ['ma', 'di', 'wo', 'do', 'vr', 'za', 'zo'];

/** 7x24 heat chart of 168 hour-of-week values (Monday 00:00 first). */
export function hourOfWeekChart(slots, { title = 'Uur van de week' } = {}) {
  if (!Array.isArray(slots) || slots.length !== 168) return '<p class="leeg">Geen tijdprofiel beschikbaar.</p>';
  const cell = 11;
  const padL = 22;
  const padT = 18;
  const width = padL + 24 * cell + 4;
  const height = padT + 7 * cell + 16;
  const max = Math.max(...slots, 1e-9);
  let svg = `<svg class="chart how" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`;
  svg += `<text x="0" y="12" class="ct">${esc(title)}</text>`;
  for (let d = 0; d < 7; d++) {
    svg += `<text x="${padL - 3}" y="${padT + d * cell + 8}" class="ax" text-anchor="end">${DAYS[d]}</text>`;
    for (let h = 0; h < 24; h++) {
      const v = slots[d * 24 + h];
      const t = v / max;
      const colour = heat(t);
      svg += `<rect x="${padL + h * cell}" y="${padT + d * cell}" width="${cell - 1}" height="${cell - 1}" fill="${colour}"><title>${DAYS[d]} ${h}:00–${h + 1}:00: ${fmtNum(v, 1)}</title></rect>`;
    }
  }
  for (const h of [0, 6, 12, 18, 23]) {
    svg += `<text x="${padL + h * cell + cell / 2}" y="${height - 3}" class="ax" text-anchor="middle">${h}</text>`;
  }
  svg += '</svg>';
  return svg;
}

function heat(t) {
  // white -> orange -> dark red
  const a = [255, 255, 255];
  const b = [253, 141, 60];
  const c = [165, 15, 21];
  const mix = (p, q, s) => p.map((v, i) => Math.round(v + (q[i] - v) * s));
  const rgb = t < 0.5 ? mix(a, b, t * 2) : mix(b, c, (t - 0.5) * 2);
  return `rgb(${rgb.join(',')})`;
}

/** Horizontal bar chart. `items`: [{label, value, colour?}]. */
export function barChart(items, { width = 320, title = '', digits = 0 } = {}) {
  if (!items.length) return '<p class="leeg">Geen gegevens.</p>';
  const row = 18;
  const padL = 130;
  const padT = title ? 18 : 4;
  const height = padT + items.length * row + 4;
  const max = Math.max(1e-9, ...items.map((i) => Math.abs(i.value ?? 0)));
  const w = width - padL - 50;
  let svg = `<svg class="chart bars" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title || 'Staafdiagram')}">`;
  if (title) svg += `<text x="0" y="12" class="ct">${esc(title)}</text>`;
  items.forEach((it, i) => {
    const yy = padT + i * row;
    const bw = (Math.abs(it.value ?? 0) / max) * w;
    svg += `<text x="${padL - 4}" y="${yy + 12}" class="ax" text-anchor="end">${esc(truncate(it.label, 22))}</text>`;
    svg += `<rect x="${padL}" y="${yy + 2}" width="${bw.toFixed(1)}" height="${row - 5}" fill="${it.colour || SERIES_COLOURS[0]}"><title>${esc(it.label)}: ${fmtNum(it.value, digits)}</title></rect>`;
    svg += `<text x="${padL + bw + 4}" y="${yy + 12}" class="ax">${fmtNum(it.value, digits)}</text>`;
  });
  svg += '</svg>';
  return svg;
}

function truncate(s, n) {
  s = String(s ?? '');
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}
