// Calendar helpers on ISO dates ('YYYY-MM-DD') and months ('YYYY-MM'), and their Dutch labels.

const MONTH_NAMES = ['jan', 'feb', 'mrt', 'apr', 'mei', 'jun', 'jul', 'aug', 'sep', 'okt', 'nov', 'dec'];

/** The months from `first` to `last` inclusive ('YYYY-MM'). */
export function monthList(first, last) {
  const out = [];
  let [y, m] = first.split('-').map(Number);
  const [ly, lm] = last.split('-').map(Number);
  while (y < ly || (y === ly && m <= lm)) {
    out.push(`${y}-${String(m).padStart(2, '0')}`);
    m += 1;
    if (m > 12) { m = 1; y += 1; }
  }
  return out;
}

/** The last day of month `ym` ('YYYY-MM') as 'YYYY-MM-DD'. */
export function lastDayOfMonth(ym) {
  const [y, m] = ym.split('-').map(Number);
  const d = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return `${ym}-${String(d).padStart(2, '0')}`;
}

/** 'mrt 2024' for '2024-03'. */
export function monthLabel(ym) {
  const [y, m] = ym.split('-').map(Number);
  return `${MONTH_NAMES[m - 1]} ${y}`;
}

/** '5 mrt 2024' for '2024-03-05'; '–' for an empty date. */
export function fmtDate(d) {
  if (!d) return '–';
  const [y, m, dd] = d.split('-').map(Number);
  return `${dd} ${MONTH_NAMES[m - 1]} ${y}`;
}

/** The date `n` days after `d` (before it when negative). */
export function shiftDays(d, n) {
  const t = new Date(`${d}T00:00:00Z`);
  t.setUTCDate(t.getUTCDate() + n);
  return t.toISOString().slice(0, 10);
}
