// End-to-end tests of the brandpunt web map: Playwright (playwright-core from web/node_modules) driving
// Debian's chromium against a REAL running server.
//
//   node tests/e2e/run.mjs --base http://127.0.0.1:PORT --out target/e2e-artifacts
//
// Every check compares what the browser shows with an independent answer of the server's JSON API (or with
// the pixels clicked by the test). Screenshots are written to --out. Exit status 0 only when all passed; the
// last line is "N passed, N failed".

import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'web', 'package.json'));

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}
const BASE = arg('base', 'http://127.0.0.1:8080').replace(/\/$/, '');
const OUT = resolve(arg('out', 'target/e2e-artifacts'));
const CHROMIUM = arg('chromium', process.env.CHROMIUM || '/usr/bin/chromium');
const ONLY = arg('only', '');
// The documented password of the demo users (`brandpunt::demo::DEMO_PASSWORD`; web_e2e.rs passes it).
const DEMO_PASSWORD = arg('demo-password', 'brandpunt-demo');
// An analyst with the `relations` grant (same password), made by web_e2e.rs next to the demo users.
const RELATIONS_USER = arg('relations-user', 'relaties');

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error('playwright-core ontbreekt: voer `make web` (npm ci in web/) uit.');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error(`chromium ontbreekt (${CHROMIUM}): apt-get install -y chromium (of make test).`);
  process.exit(2);
}
mkdirSync(OUT, { recursive: true });
for (const f of readdirSync(OUT)) if (f.endsWith('.png')) rmSync(join(OUT, f)); // no stale screenshots

// ---------- helpers ----------
class CheckError extends Error {}
function check(cond, msg) {
  if (!cond) throw new CheckError(msg);
}
// The API checks ask as the same caller as the page: `ctx.cookie` is the session cookie of the user logged in
// on the page (null = anonymous), so protected counts ("< k") are compared with what that caller gets.
async function apiGet(path, params = {}, cookie = ctx.cookie) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null)).toString();
  const url = `${BASE}${path}${q ? `?${q}` : ''}`;
  const res = await fetch(url, { headers: cookie ? { Cookie: cookie } : {} });
  check(res.ok, `GET ${url} gaf ${res.status}`);
  return res.json();
}
async function apiPost(path, body, cookie = ctx.cookie) {
  const headers = { 'Content-Type': 'application/json', 'X-Brandpunt': '1', ...(cookie ? { Cookie: cookie } : {}) };
  const res = await fetch(`${BASE}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  check(res.ok, `POST ${path} gaf ${res.status}: ${await res.text()}`);
  return res.json();
}
/** Logs a demo user in through POST /api/login; returns the session cookie ("name=value"). */
async function apiLogin(user) {
  const res = await fetch(`${BASE}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Brandpunt': '1' }, body: JSON.stringify({ user, password: DEMO_PASSWORD }) });
  check(res.ok, `POST /api/login als ${user} gaf ${res.status}`);
  const cookie = (res.headers.get('set-cookie') || '').split(';')[0];
  check(cookie.includes('='), `POST /api/login als ${user} gaf geen sessiecookie`);
  return cookie;
}
/** The entries of a zip archive (an .xlsx) by name, read through its central directory (stored or deflated). */
function unzip(buf) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  check(eocd >= 0, 'geen zip: geen centrale map');
  const entries = new Map();
  let p = buf.readUInt32LE(eocd + 16);
  for (let i = 0; i < buf.readUInt16LE(eocd + 10); i++) {
    check(buf.readUInt32LE(p) === 0x02014b50, 'zip: kapotte centrale map');
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const skip = nameLen + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    const local = buf.readUInt32LE(p + 42);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + size);
    entries.set(name, method === 8 ? inflateRawSync(data) : data);
    p += 46 + skip;
  }
  return entries;
}
/** The first row of the first worksheet of an .xlsx workbook, as texts (shared or inline strings). */
function xlsxHeader(buf) {
  const z = unzip(buf);
  const unxml = (t) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  const shared = [...(z.get('xl/sharedStrings.xml') || '').toString().matchAll(/<si>([\s\S]*?)<\/si>/g)]
    .map((m) => unxml([...m[1].matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((t) => t[1]).join('')));
  const sheet = z.get('xl/worksheets/sheet1.xml');
  check(sheet, 'werkmap zonder xl/worksheets/sheet1.xml');
  const row = /<row [^>]*r="1"[^>]*>([\s\S]*?)<\/row>/.exec(sheet.toString());
  check(row, 'werkblad zonder eerste rij');
  return [...row[1].matchAll(/<c ([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)].map((c) => {
    const inner = c[2] || '';
    if (/t="s"/.test(c[1])) return shared[Number(/<v>(\d+)<\/v>/.exec(inner)[1])];
    const t = /<t[^>]*>([\s\S]*?)<\/t>/.exec(inner) || /<v>([\s\S]*?)<\/v>/.exec(inner);
    return t ? unxml(t[1]) : '';
  });
}
/** Count of a rendered buurt feature, or null when the tile withholds it (small-count protection). */
function tileCount(f) {
  return f.suppressed ? null : Number(f.count);
}
/** Whether a rendered buurt feature shows what /stats gives the same caller: the number, or the same label. */
function sameAsStats(f, s) {
  if (s.count === null || s.count === undefined) {
    return Boolean(f.suppressed) && (f.count === undefined || f.count === null) && f.count_label === s.count_label;
  }
  return !f.suppressed && Number(f.count) === s.count;
}
/** Published buurt features (count not withheld), busiest first. */
function busiest(rendered) {
  return Object.entries(rendered).filter(([, f]) => !f.suppressed).sort((a, b) => Number(b[1].count) - Number(a[1].count));
}
async function mapIdle(page) {
  await page.evaluate(() => new Promise((res) => {
    const m = window.brandpunt.map;
    const done = () => (m.areTilesLoaded() && !m.isMoving() ? res() : m.once('idle', done));
    m.once('idle', done);
    m.triggerRepaint();
  }));
}
/** Rendered buurt features: code -> {count, rate, colour}. */
async function renderedBuurten(page) {
  return page.evaluate(() => {
    const out = {};
    for (const f of window.brandpunt.map.queryRenderedFeatures({ layers: ['buurten-fill'] })) {
      const c = f.layer.paint && f.layer.paint['fill-color'];
      const colour = c && typeof c === 'object' && 'r' in c ? [c.r, c.g, c.b].map((v) => Math.round(v * 255)).join(',') : String(c);
      const p = f.properties;
      out[p.code] = { count: p.count, count_label: p.count_label, suppressed: Boolean(p.suppressed), rate: p.rate, colour };
    }
    return out;
  });
}
/** The colour the choropleth must give a value, from the breaks the legend shows. */
function expectedColour(value, breaks, colours) {
  if (value === null) return colours.suppressed; // withheld count: the neutral class of the legend
  let i = 0;
  while (i < breaks.length && value >= breaks[i]) i++;
  return colours[Math.min(i, colours.length - 1)];
}
async function shot(page, name) {
  await page.screenshot({ path: join(OUT, `${name}.png`) });
}
/** A pixel of the map canvas (page coordinates) inside the rendered buurt `code`, away from its edges. */
async function pixelInside(page, code, timeoutMs = 20000) {
  // The filter's tiles must be drawn first: after a filter change the buurten source is reloading (setTiles empties
  // it), and a query in that window finds no buurt at all. Then poll each idle frame until the buurt is found.
  await page.waitForFunction(() => window.brandpunt.state.breaksVersion === window.brandpunt.state.filterVersion, null, { timeout: timeoutMs });
  await mapIdle(page);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await page.evaluate((code) => {
      const m = window.brandpunt.map;
      const canvas = m.getCanvas().getBoundingClientRect();
      const w = m.getCanvas().clientWidth;
      const h = m.getCanvas().clientHeight;
      let best = null;
      for (let y = 10; y < h - 10; y += 6) {
        for (let x = 10; x < w - 10; x += 6) {
          const hit = m.queryRenderedFeatures([x, y], { layers: ['buurten-fill'] })[0];
          if (!hit || hit.properties.code !== code) continue;
          // prefer points whose neighbourhood (+-12 px) is the same buurt
          const ok = [[12, 0], [-12, 0], [0, 12], [0, -12]].every(([dx, dy]) => {
            const q = m.queryRenderedFeatures([x + dx, y + dy], { layers: ['buurten-fill'] })[0];
            return q && q.properties.code === code;
          });
          if (ok) return { x: canvas.left + x, y: canvas.top + y };
          if (!best) best = { x: canvas.left + x, y: canvas.top + y };
        }
      }
      return best;
    }, code);
    if (p || Date.now() > deadline) return p;
    await page.waitForTimeout(250);
    await mapIdle(page);
  }
}

/**
 * Whether the server offers an endpoint: an unknown route answers 404 without a JSON error, 405, or the web app's
 * HTML; a known one anything else (JSON, or 400/404 with a JSON error about the parameters).
 */
async function offers(method, path, body) {
  const res = await fetch(`${BASE}${path}`, method === 'POST' ? { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}) } : {});
  const type = res.headers.get('content-type') || '';
  // The web app is served as fallback for unknown paths: an HTML answer means "no such endpoint".
  if (res.status === 405 || type.includes('text/html')) return false;
  if (res.status !== 404) return true;
  try {
    return Boolean((await res.json()).error);
  } catch (e) {
    return false;
  }
}

// ---------- tests ----------
const tests = [];
/** A test; `needs` lists endpoints (keys of ctx.offered) without which it is reported as skipped. */
function test(name, fn, needs = []) { tests.push({ name, fn, needs }); }
const ctx = {};

test('kaart laadt en tekent de buurten', async (page) => {
  const meta = await apiGet('/api/meta');
  await page.goto(BASE + '/');
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 30000 });
  await page.waitForFunction(() => window.brandpunt.state.breaksVersion === 0, null, { timeout: 30000 });
  await mapIdle(page);
  const title = await page.textContent('h1');
  check(title.includes(meta.name), `kop "${title}" noemt de gemeente "${meta.name}" niet`);
  const buurten = await apiGet('/api/areas', { level: 'buurt' });
  check(buurten.length > 0, 'GET /api/areas?level=buurt gaf geen buurten');
  const rendered = await renderedBuurten(page);
  const codes = Object.keys(rendered);
  const known = new Set(buurten.map((b) => b.code));
  const unknown = codes.filter((c) => !known.has(c));
  check(unknown.length === 0, `getekende buurten die de API niet kent: ${unknown.join(', ')}`);
  // Every buurt whose bbox lies in view must be drawn.
  const bounds = await page.evaluate(() => window.brandpunt.map.getBounds().toArray());
  const inView = buurten.filter((b) => b.bbox && b.bbox[0] >= bounds[0][0] && b.bbox[1] >= bounds[0][1] && b.bbox[2] <= bounds[1][0] && b.bbox[3] <= bounds[1][1]);
  check(inView.length > 0, 'geen enkele buurt ligt volgens de API in beeld');
  const missing = inView.filter((b) => !rendered[b.code]).map((b) => b.code);
  check(missing.length === 0, `buurten in beeld maar niet getekend: ${missing.join(', ')}`);
  // Counts in the tiles equal the stats endpoint for the same (default) filter.
  const filter = await page.evaluate(() => window.brandpunt.filterParams());
  const sample = codes.sort().filter((_, i) => i % Math.max(1, Math.floor(codes.length / 4)) === 0).slice(0, 4);
  for (const code of sample) {
    const s = await apiGet(`/api/areas/${encodeURIComponent(code)}/stats`, filter);
    check(sameAsStats(rendered[code], s), `buurt ${code}: tegel zegt ${rendered[code].count ?? rendered[code].count_label}, /stats zegt ${s.count ?? s.count_label}`);
  }
  // Also a withheld one, when there is one in view.
  const hidden = codes.filter((c) => rendered[c].suppressed);
  for (const code of hidden.slice(0, 2)) {
    const s = await apiGet(`/api/areas/${encodeURIComponent(code)}/stats`, filter);
    check(sameAsStats(rendered[code], s), `buurt ${code}: tegel zegt ${rendered[code].count ?? rendered[code].count_label}, /stats zegt ${s.count ?? s.count_label}`);
  }
  // The colour of every buurt follows the legend's classes.
  const { breaks, colours } = await legendState(page);
  check(new Set(colours).size === colours.length, `legendaklassen hebben niet elk een eigen kleur: ${colours.join(' | ')}`);
  for (const [code, f] of Object.entries(rendered)) {
    check(f.colour === expectedColour(tileCount(f), breaks, colours), `buurt ${code} (${f.count ?? f.count_label}) heeft kleur ${f.colour}, legenda zegt ${expectedColour(tileCount(f), breaks, colours)}`);
  }
  if (hidden.length) {
    const text = (await page.textContent('#legend-suppressed').catch(() => '')) || '';
    const lt = hidden.map((c) => /^<\s*(\d+)$/.exec(rendered[c].count_label || '')).find(Boolean);
    const k = lt ? Number(lt[1]) : meta.min_count;
    check(text.trim() === `te weinig om te tonen (< ${k})`, `legenda voor afgeschermde buurten: "${text}", verwacht "te weinig om te tonen (< ${k})"`);
    check(!colours.includes(colours.suppressed), `afgeschermde buurten hebben de kleur van een legendaklasse (${colours.suppressed})`);
  }
  const legendItems = await page.locator('#legend-choropleth li').count();
  const extra = meta.protected ? 1 : 0; // the entry of the withheld counts (protected callers)
  check(legendItems === breaks.length + 1 + extra && colours.length === breaks.length + 1, `legenda heeft ${legendItems} klassen, verwacht ${breaks.length + 1 + extra}`);
  ctx.before = rendered;
  ctx.meta = meta;
  ctx.buurten = buurten;
  console.log(`    ${codes.length} buurten getekend, ${inView.length} volledig in beeld`);
  await shot(page, '01-kaart');
});

/** What the page's own session is, asked by the page itself (the cookie is HttpOnly). */
async function pageMe(page) {
  return page.evaluate(async () => {
    const r = await fetch('/api/me', { credentials: 'same-origin' });
    return { status: r.status, body: r.ok ? await r.json() : null };
  });
}
/** Fill in the login form in the header and submit it. */
async function submitLogin(page, user, password) {
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}
async function waitReady(page) {
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 30000 });
  await page.waitForFunction(() => window.brandpunt.state.breaksVersion === window.brandpunt.state.filterVersion, null, { timeout: 30000 });
  await mapIdle(page);
}
/** Controls for address-level data and custom areas present in the page. */
async function privilegedControls(page) {
  return page.evaluate(() => ({
    points: document.querySelectorAll('input[data-layer="incidents"]').length,
    cells: document.querySelectorAll('input[data-layer="cells"]').length,
    draw: document.querySelectorAll('#draw-start').length,
    pointsVisible: window.brandpunt.map.getLayoutProperty('incidents-points', 'visibility') !== 'none',
  }));
}

test('anoniem: geen puntenlaag en niet tekenen', async (page) => {
  const me = await pageMe(page);
  check(me.status === 200 && me.body.anonymous === true, `/api/me voor de pagina: ${me.status} ${JSON.stringify(me.body)}`);
  const c = await privilegedControls(page);
  check(c.points === 0 && c.cells === 0, `anoniem ziet een incidentlaag-schakelaar (${JSON.stringify(c)})`);
  check(!c.pointsVisible, 'de laag incidents-points staat aan voor een anonieme gebruiker');
  check(c.draw === 0, 'anoniem ziet de knop Gebied tekenen');
  check(await page.isVisible('#login-form'), 'het inlogformulier is niet zichtbaar');
  for (const label of ['Gebruikersnaam', 'Wachtwoord']) {
    check((await page.textContent('#login-form')).includes(label), `het inlogformulier noemt "${label}" niet`);
  }
  check((await page.textContent('#login-submit')).trim() === 'Inloggen', 'de inlogknop heet niet Inloggen');
});

test('verkeerd wachtwoord geeft een Nederlandse foutmelding', async (page) => {
  await submitLogin(page, 'analist', `${DEMO_PASSWORD}-fout`);
  await page.waitForFunction(() => document.getElementById('login-error').textContent.length > 0, null, { timeout: 15000 });
  const msg = (await page.textContent('#login-error')).trim();
  check(msg === 'Onjuiste gebruikersnaam of wachtwoord.', `foutmelding "${msg}"`);
  const me = await pageMe(page);
  check(me.body && me.body.anonymous === true, 'na een fout wachtwoord is de pagina niet meer anoniem');
  check(!(await page.isVisible('#who')), 'na een fout wachtwoord staat er een gebruiker in de kop');
  await shot(page, '01b-fout-wachtwoord');
});

async function legendState(page) {
  // colours.suppressed: the colour of the legend entry of withheld counts (null without it)
  const { breaks, colours, suppressed } = await page.evaluate(async () => {
    // the colours the user sees in the legend, lightest class first
    const s = window.brandpunt.state;
    const breaks = s.breaks[s.mode];
    const rgb = (i) => getComputedStyle(i).backgroundColor.replace(/[^0-9,]/g, '');
    const colours = [...document.querySelectorAll('#legend-choropleth li:not(#legend-suppressed) i')].slice(0, breaks.length + 1).map(rgb);
    const sup = document.querySelector('#legend-suppressed i');
    return { breaks, colours, suppressed: sup ? rgb(sup) : null };
  });
  colours.suppressed = suppressed;
  return { breaks, colours };
}

test('filter op categorie verandert de choropleth', async (page) => {
  const group = (ctx.meta.groups || []).find((g) => g.name === 'inbraak') || (ctx.meta.groups || [])[0];
  check(group, '/api/meta noemt geen categoriegroepen');
  const v0 = await page.evaluate(() => window.brandpunt.state.filterVersion);
  await page.check(`#groups input[value="${group.name}"]`);
  await page.waitForFunction((v0) => window.brandpunt.state.filterVersion > v0, v0);
  check(await page.evaluate(() => window.brandpunt.filterParams().category) === group.name, 'filter bevat de gekozen groep niet');
  // Wait until the re-requested tiles are drawn with the new counts.
  await page.waitForFunction(() => window.brandpunt.state.breaksVersion === window.brandpunt.state.filterVersion, null, { timeout: 20000 });
  await mapIdle(page);
  const after = await renderedBuurten(page);
  const filter = await page.evaluate(() => window.brandpunt.filterParams());
  // totals over the published counts (withheld ones are not summed)
  const sumBefore = Object.values(ctx.before).reduce((s, f) => s + (tileCount(f) ?? 0), 0);
  const sumAfter = Object.values(after).reduce((s, f) => s + (tileCount(f) ?? 0), 0);
  check(sumAfter < sumBefore, `na filter "${group.name}" is het totaal ${sumAfter}, niet minder dan ${sumBefore}`);
  const shownAs = (f) => (f.suppressed ? `label ${f.count_label}` : Number(f.count));
  const changed = Object.keys(after).filter((c) => ctx.before[c] && shownAs(ctx.before[c]) !== shownAs(after[c]));
  check(changed.length > 0, 'geen enkele buurt kreeg een ander aantal');
  for (const code of changed.slice(0, 4)) {
    const s = await apiGet(`/api/areas/${encodeURIComponent(code)}/stats`, filter);
    check(sameAsStats(after[code], s), `buurt ${code} na filter: kaart ${shownAs(after[code])}, /stats?category=${group.name} ${s.count ?? s.count_label}`);
  }
  const { breaks, colours } = await legendState(page);
  for (const [code, f] of Object.entries(after)) {
    check(f.colour === expectedColour(tileCount(f), breaks, colours), `buurt ${code} (${shownAs(f)}) heeft na het filter kleur ${f.colour}`);
  }
  const recoloured = Object.keys(after).filter((c) => ctx.before[c] && ctx.before[c].colour !== after[c].colour);
  console.log(`    ${changed.length} buurten met ander aantal, ${recoloured.length} met andere kleur; totaal ${sumBefore} -> ${sumAfter}`);
  ctx.filter = filter;
  ctx.after = after;
  await shot(page, '02-filter-' + group.name);
});

test('klik op een buurt toont de cijfers in het zijpaneel', async (page) => {
  // the buurt with the most incidents in the current filter
  // the buurt with the most incidents the caller is shown in the current filter; when every count is withheld
  // (small counts, anonymous), a withheld one: the panel must then show its label
  const [code] = busiest(ctx.after).filter(([, f]) => Number(f.count) > 0)[0] || Object.entries(ctx.after).find(([, f]) => f.suppressed) || Object.entries(ctx.after)[0];
  const p = await pixelInside(page, code);
  check(p, `geen pixel van buurt ${code} gevonden`);
  await page.mouse.click(p.x, p.y);
  await page.waitForSelector('#panel-count', { timeout: 15000 });
  const shown = await page.getAttribute('#panel-count', 'data-value');
  const filter = await page.evaluate(() => window.brandpunt.filterParams());
  const s = await apiGet(`/api/areas/${encodeURIComponent(code)}/stats`, filter);
  const panel = await page.evaluate(() => { const el = document.getElementById('panel-count'); return { text: el.textContent.trim(), suppressed: el.dataset.suppressed }; });
  if (s.count === null || s.count === undefined) {
    check(panel.suppressed === '1' && panel.text === s.count_label, `zijpaneel toont "${panel.text}", /stats zegt "${s.count_label}"`);
  } else {
    check(Number(shown) === s.count && panel.suppressed === '0', `zijpaneel toont ${shown}, /stats zegt ${s.count}`);
  }
  const title = await page.textContent('#side-kaart h2');
  check(title.trim() === s.name, `zijpaneel kop "${title}", verwacht "${s.name}"`);
  const text = await page.textContent('#side-kaart');
  check(/Verandering/.test(text), 'zijpaneel toont geen verandering t.o.v. de vorige periode');
  const charts = await page.locator('#side-kaart svg.chart').count();
  // categories: a chart when /stats publishes a category count > 0; withheld ones are listed with their label
  const published = (s.categories || []).filter((c) => c.count > 0).length;
  const withheldCats = (s.categories || []).filter((c) => c.suppressed);
  // hour of week: withheld as a whole for an area whose count is withheld (then a hint instead of the chart)
  const how = ctx.offered.hourOfWeek ? await apiGet(`/api/areas/${encodeURIComponent(code)}/hour-of-week`, filter) : null;
  const howShown = how && !how.suppressed;
  if (how && how.suppressed) check(await page.locator('#panel-how-suppressed').count() === 1, 'zijpaneel zegt niet dat het tijdprofiel is afgeschermd');
  const expectCharts = (published ? 1 : 0) + (ctx.offered.timeseries ? 1 : 0) + (howShown ? 1 : 0);
  if (withheldCats.length) {
    const hint = (await page.textContent('#panel-hidden-categories').catch(() => '')) || '';
    for (const c of withheldCats) check(hint.includes(`(${c.count_label})`), `zijpaneel noemt afgeschermde categorie ${c.code} niet met "${c.count_label}": "${hint}"`);
  }
  check(charts === expectCharts, `zijpaneel heeft ${charts} grafieken, verwacht ${expectCharts} (categorieën, trend, uur van de week)`);
  if (ctx.offered.timeseries) {
    const ts = await apiGet(`/api/areas/${encodeURIComponent(code)}/timeseries`, { ...filter, step: 'week' });
    // withheld steps (count null, small-count protection) are not summed: then the sum is a lower bound
    const total = ts.series.reduce((a, p) => a + (p.count ?? 0), 0);
    const withheld = ts.series.some((p) => p.count === null || p.count === undefined);
    if (s.count !== null && s.count !== undefined) {
      check(withheld ? total <= s.count : total === s.count, `de tijdreeks telt ${total}${withheld ? ' (zonder afgeschermde stappen)' : ''}, /stats ${s.count}`);
    }
    const points = await page.locator('#side-kaart svg.trend circle').count();
    check(points === ts.series.length, `trendlijn heeft ${points} punten, /timeseries ${ts.series.length}`);
  }
  await shot(page, '03-buurt-zijpaneel');
});

/** Overlapping pairs of the x-axis labels (text.ax at the bottom) of every trend chart inside `selector`. */
async function overlappingAxisLabels(page, selector) {
  return page.evaluate((selector) => {
    const out = [];
    for (const svg of document.querySelectorAll(`${selector} svg.chart.trend`)) {
      const h = Number(svg.getAttribute('height'));
      const boxes = [...svg.querySelectorAll('text.ax')]
        .filter((t) => Number(t.getAttribute('y')) > h - 10)
        .map((t) => ({ text: t.textContent, r: t.getBoundingClientRect() }))
        .sort((a, b) => a.r.left - b.r.left);
      for (let i = 1; i < boxes.length; i++) {
        if (boxes[i].r.left < boxes[i - 1].r.right) out.push(`${boxes[i - 1].text} / ${boxes[i].text}`);
      }
      if (boxes.length < 2 && svg.querySelectorAll('circle').length > 1) out.push(`slechts ${boxes.length} aslabel(s)`);
    }
    return out;
  }, selector);
}

test('tijdreeksgrafiek: de aslabels overlappen niet', async (page) => {
  // The side panel's chart of the current buurt, and the same chart function with long monthly and weekly
  // series in the panel's and the comparison's widths, measured as the browser lays them out.
  const panel = await overlappingAxisLabels(page, '#side-kaart');
  check(panel.length === 0, `zijpaneel: aslabels overlappen: ${panel.join(', ')}`);
  const made = await page.evaluate(async () => {
    const { trendChart } = await import('./charts.js');
    const months = [];
    for (let y = 2021; y <= 2024; y++) for (let m = 1; m <= 12; m++) months.push(`${y}-${String(m).padStart(2, '0')}`);
    const weeks = [];
    for (let y = 2023; y <= 2024; y++) for (let w = 1; w <= 52; w++) weeks.push(`${y}-W${String(w).padStart(2, '0')}`);
    const div = document.createElement('div');
    div.id = 'axis-test';
    for (const [periods, width] of [[months, 330], [months, 480], [weeks, 330], [weeks, 480], [months.slice(0, 13), 330], [weeks.slice(0, 10), 330]]) {
      div.innerHTML += trendChart([{ name: 'x', points: periods.map((period, i) => ({ period, count: i % 7 })) }], { width, title: 'Test' });
    }
    document.body.appendChild(div);
    return div.querySelectorAll('svg').length;
  });
  check(made === 6, `${made} testgrafieken`);
  const test = await overlappingAxisLabels(page, '#axis-test');
  await page.evaluate(() => document.getElementById('axis-test').remove());
  check(test.length === 0, `aslabels overlappen: ${test.join(', ')}`);
}, ['timeseries']);

test('dichtheid (KDE): kleurverloop en rand, buurten gedimd zolang de laag aan staat', async (page) => {
  await page.click('#tabs button[data-view="kaart"]');
  const look = () => page.evaluate(() => {
    const m = window.brandpunt.map;
    const op = JSON.stringify(m.getPaintProperty('buurten-fill', 'fill-opacity'));
    return { op, line: m.getLayoutProperty('kde-line', 'visibility'), fill: JSON.stringify(m.getPaintProperty('kde-fill', 'fill-color')) };
  });
  const before = await look();
  await page.check('input[data-layer="kde"]');
  await mapIdle(page);
  const on = await look();
  check(on.line === 'visible', `de rand van de KDE is niet zichtbaar (${on.line})`);
  check(on.op !== before.op, 'de buurten worden niet gedimd zolang de KDE aan staat');
  // Dimmed: every opacity in the expression is lower.
  const nums = (s) => (s.match(/\d+\.\d+|\b\d\b/g) || []).map(Number).filter((v) => v > 0 && v < 1);
  const [a, b] = [nums(before.op), nums(on.op)];
  check(a.length === b.length && a.length > 0 && b.every((v, i) => v < a[i]), `opaciteit ${before.op} -> ${on.op}`);
  check(on.fill.includes('level'), `de KDE kleurt niet naar niveau: ${on.fill}`);
  const legend = (await page.textContent('#legend')) || '';
  check(legend.includes('gedimd'), `legenda zegt niet dat de buurten gedimd zijn: "${legend}"`);
  await shot(page, '03d-kde');
  await page.uncheck('input[data-layer="kde"]');
  const off = await look();
  check(off.op === before.op && off.line === 'none', 'na uitzetten van de KDE zijn de buurten niet terug');
});

/** Clicks buurt `code` on the map and waits until the side panel shows it; returns the panel's count cell. */
async function openBuurt(page, code) {
  const p = await pixelInside(page, code);
  check(p, `geen pixel van buurt ${code} gevonden`);
  await page.mouse.click(p.x, p.y);
  await page.waitForFunction((code) => window.brandpunt.state.selected && window.brandpunt.state.selected.code === code && document.getElementById('panel-count'), code, { timeout: 15000 });
  return page.evaluate(() => {
    const el = document.getElementById('panel-count');
    return { text: el.textContent.trim(), value: el.dataset.value, label: el.dataset.label, suppressed: el.dataset.suppressed };
  });
}

test('zijpaneel: een vorige periode vóór het begin van de gegevens heet "geen gegevens", niet 0 incidenten', async (page) => {
  const first = ctx.meta.period && ctx.meta.period.first;
  check(first, '/api/meta noemt geen eerste dag');
  const code = await page.evaluate(() => window.brandpunt.state.selected && window.brandpunt.state.selected.code);
  check(code, 'geen gebied geselecteerd in het zijpaneel');
  const saved = await page.evaluate(() => ({ from: document.getElementById('from').value, to: document.getElementById('to').value }));
  const plusDays = (d, n) => new Date(Date.parse(d) + n * 86400000).toISOString().slice(0, 10);
  const setPeriod = (from, to) => page.evaluate(([f, t]) => {
    document.getElementById('from').value = f;
    document.getElementById('to').value = t;
    document.getElementById('to').dispatchEvent(new Event('change'));
  }, [from, to]);
  await setPeriod(first, plusDays(first, 29));
  await page.waitForFunction(() => /geen gegevens over de vorige periode/.test(document.getElementById('panel-change')?.textContent || ''), null, { timeout: 15000 });
  const s = await apiGet(`/api/areas/${encodeURIComponent(code)}/stats`, await page.evaluate(() => window.brandpunt.filterParams()));
  check(s.previous && s.previous.covered_days === 0 && s.change === null, `/stats zegt covered_days ${s.previous && s.previous.covered_days}, change ${JSON.stringify(s.change)}`);
  const text = await page.textContent('#panel-change');
  check(!/: 0 incidenten/.test(text), `zijpaneel zegt "${text}"`);
  const [fy, , fd] = first.split('-').map(Number);
  check(text.includes(`beginnen op ${fd} `) && text.includes(String(fy)), `zijpaneel noemt de eerste dag ${first} niet: "${text}"`);
  await setPeriod(saved.from, saved.to);
  await page.waitForFunction(() => !/geen gegevens over de vorige periode/.test(document.getElementById('panel-change')?.textContent || ''), null, { timeout: 15000 });
});


/** Open the Dashboard tab and wait until it shows the answer for the current filter. */
async function openDashboard(page) {
  await page.click('#tabs button[data-view="dashboard"]');
  await page.waitForFunction(() => document.body.dataset.dashboard === 'ready', null, { timeout: 30000 });
}
/** A count as the dashboard shows it: the number (nl-NL) or the label of a withheld count. */
function shownCount(value, label) {
  if (value === null || value === undefined) return label || '–';
  return Number(value).toLocaleString('nl-NL');
}
/**
 * The dashboard's figures equal GET /api/dashboard for the same caller and query: key figures per group, every
 * ranking row (buurten and wijken), the opvallend list, the hour-of-week profile (or its withholding) and the
 * scatter's coefficients. Returns the API's answer.
 */
async function checkDashboard(page) {
  await openDashboard(page);
  const params = await page.evaluate(() => window.brandpunt.dashboardParams());
  const d = await apiGet('/api/dashboard', params);
  const me = await pageMe(page);
  check(d.protected === Boolean(me.body.anonymous || me.body.role === 'viewer'), `dashboard protected=${d.protected} voor ${JSON.stringify(me.body)}`);
  const figures = await page.evaluate(() => [...document.querySelectorAll('#dash-figures tbody tr')].map((tr) => ({
    group: tr.dataset.group,
    cells: Object.fromEntries([...tr.querySelectorAll('td[data-col]')].map((td) => [td.dataset.col, { value: td.dataset.value, text: td.textContent.trim() }])),
  })));
  check(figures.length === d.groups.length, `dashboard toont ${figures.length} groepen, de API ${d.groups.length}`);
  for (const [i, g] of d.groups.entries()) {
    const f = figures[i];
    check(f.group === g.name, `groep ${i}: ${f.group}, API ${g.name}`);
    const c = g.current;
    check(f.cells.count.text === shownCount(c.count, c.count_label), `${g.name}: dashboard "${f.cells.count.text}", API ${c.count ?? c.count_label}`);
    check(f.cells.count.value === (c.count === null ? '' : String(c.count)), `${g.name}: data-value ${f.cells.count.value}, API ${c.count}`);
    const rate = c.rate === null ? '–' : Number(c.rate).toLocaleString('nl-NL', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    check(f.cells.rate.text === rate, `${g.name}: per 1.000 inwoners "${f.cells.rate.text}", API ${c.rate}`);
    const prev = g.previous.no_data ? 'geen gegevens' : shownCount(g.previous.count, g.previous.count_label);
    check(f.cells.previous.text === prev, `${g.name}: vorige periode "${f.cells.previous.text}", API ${JSON.stringify(g.previous)}`);
    const rr = g.change_previous ? g.change_previous.rate_ratio : null;
    check(f.cells.change_previous.value === (rr === null || rr === undefined ? '' : String(rr)), `${g.name}: verandering ${f.cells.change_previous.value}, API ${rr}`);
    const year = g.year_before.no_data ? 'geen gegevens' : shownCount(g.year_before.count, g.year_before.count_label);
    check(f.cells.year_before.text === year, `${g.name}: jaar eerder "${f.cells.year_before.text}", API ${JSON.stringify(g.year_before)}`);
  }
  for (const level of ['buurt', 'wijk']) {
    await page.check(`input[name="dash-level"][value="${level}"]`);
    const rows = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#dash-ranking tbody tr')].map((tr) => {
      const td = tr.querySelector('td[data-col="count"]');
      return [tr.dataset.code, { value: td.dataset.value, text: td.textContent.trim(), striking: tr.querySelector('td[data-col="striking"]').textContent.trim() }];
    })));
    check(Object.keys(rows).length === d.ranking[level].length, `ranglijst ${level}: ${Object.keys(rows).length} rijen, API ${d.ranking[level].length}`);
    for (const r of d.ranking[level]) {
      const row = rows[r.code];
      check(row, `ranglijst ${level}: ${r.code} ontbreekt`);
      check(row.text === shownCount(r.count, r.count_label) && row.value === (r.count === null ? '' : String(r.count)), `ranglijst ${r.code}: "${row.text}", API ${r.count ?? r.count_label}`);
      check(Boolean(row.striking) === Boolean(r.striking), `ranglijst ${r.code}: opvallend "${row.striking}", API ${r.striking}`);
    }
  }
  const striking = await page.evaluate(() => [...document.querySelectorAll('#dash-striking li')].map((li) => li.dataset.code));
  check(JSON.stringify(striking) === JSON.stringify(d.striking.map((a) => a.code)), `opvallend: ${striking.join(',')}, API ${d.striking.map((a) => a.code).join(',')}`);
  // The monthly report's tables as Excel, for this month and the caller: a workbook whose first sheet is the total.
  const xlsxHref = await page.getAttribute('#dash-monthly-xlsx', 'href');
  const xq = new URL(xlsxHref).searchParams;
  check(xq.get('month') === d.month.month && xq.get('format') === 'xlsx', `Excel-link van de maandanalyse: ${xlsxHref}`);
  const xres = await fetch(xlsxHref, { headers: ctx.cookie ? { Cookie: ctx.cookie } : {} });
  check(xres.ok && (xres.headers.get('content-type') || '').includes('spreadsheetml'), `Excel van de maandanalyse gaf ${xres.status} ${xres.headers.get('content-type')}`);
  const xhead = xlsxHeader(Buffer.from(await xres.arrayBuffer()));
  check(['month', 'count', 'count_label', 'history_mean'].every((c) => xhead.includes(c)), `kop van het blad Totaal: ${xhead}`);
  const thumb = await page.evaluate(() => document.querySelectorAll('#dash-thumbnail path').length);
  check(thumb === d.ranking.buurt.length, `kaartje tekent ${thumb} buurten, de ranglijst heeft er ${d.ranking.buurt.length}`);
  if (d.hour_of_week.suppressed) check(await page.isVisible('#dash-how-suppressed'), 'uur van de week afgeschermd maar niet gemeld');
  else check(await page.evaluate(() => document.querySelectorAll('#dash-how svg rect').length) === 168, 'uur van de week heeft geen 168 vakjes');
  const x = await page.inputValue('#dash-x');
  const corr = await apiGet('/api/enrichment/correlation', { ...params, x, y: await page.inputValue('#dash-y'), level: 'buurt' });
  const shown = await page.evaluate(() => ({ ...document.getElementById('dash-corr').dataset }));
  check(Number(shown.n) === corr.n && shown.pearson === (corr.pearson === null ? '' : String(corr.pearson)), `spreidingsdiagram: n ${shown.n} r ${shown.pearson}, API n ${corr.n} r ${corr.pearson}`);
  const dots = await page.evaluate(() => document.querySelectorAll('#dash-scatter-svg circle').length);
  check(dots === corr.points.filter((p) => p.x !== null && p.y !== null).length, `spreidingsdiagram: ${dots} punten, API ${corr.n}`);
  return d;
}

test('anoniem ziet "< k" voor een buurt met 1..k-1 incidenten', async (page) => {
  const k = ctx.meta.min_count;
  check(ctx.meta.protected === true && Number.isInteger(k) && k >= 2, `/api/meta anoniem: protected ${ctx.meta.protected}, min_count ${k}`);
  // The exact counts come from the API as analyst (a separate session of the demo user).
  ctx.analyst = await apiLogin('analist');
  const filter = await page.evaluate(() => window.brandpunt.filterParams());
  const codes = Object.keys(ctx.after).sort((a, b) => Number(ctx.after[b].suppressed) - Number(ctx.after[a].suppressed));
  let small = null;
  for (const code of codes) {
    const exact = await apiGet(`/api/areas/${encodeURIComponent(code)}/stats`, filter, ctx.analyst);
    check(exact.count !== null && exact.count !== undefined && !exact.suppressed, `de analist krijgt voor ${code} geen exact aantal: ${JSON.stringify(exact.count_label)}`);
    if (exact.count >= 1 && exact.count < k) { small = { code, exact: exact.count }; break; }
  }
  check(small, `geen buurt in beeld met 1..${k - 1} incidenten (filter ${JSON.stringify(filter)})`);
  const anon = await apiGet(`/api/areas/${encodeURIComponent(small.code)}/stats`, filter, null);
  check(anon.count === null && anon.suppressed === true && anon.count_label === `< ${k}`, `anoniem /stats voor ${small.code}: ${JSON.stringify({ count: anon.count, label: anon.count_label })}, verwacht null en "< ${k}"`);
  const f = ctx.after[small.code];
  check(sameAsStats(f, anon), `tegel van ${small.code}: ${JSON.stringify(f)}, /stats anoniem "${anon.count_label}"`);
  const panel = await openBuurt(page, small.code);
  check(panel.text === `< ${k}` && panel.suppressed === '1', `zijpaneel toont "${panel.text}" voor ${small.code}, verwacht "< ${k}"`);
  const text = await page.textContent('#side-kaart');
  check(!new RegExp(`\\b${small.exact}\\s+incidenten`).test(text), `zijpaneel noemt het exacte aantal ${small.exact}`);
  ctx.small = small;
  console.log(`    ${small.code}: anoniem "${panel.text}" (exact ${small.exact})`);
  await shot(page, '03c-afgeschermd');
});

function inRing(pt, ring) {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > pt[1]) !== (yj > pt[1]) && pt[0] < ((xj - xi) * (pt[1] - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}
/** Point in a GeoJSON Polygon/MultiPolygon (even-odd over all rings, so holes count). */
function inGeometry(pt, g) {
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  return polys.some((rings) => rings.filter((r) => inRing(pt, r)).length % 2 === 1);
}

test('dashboard anoniem: cijfers gelijk aan de API, kleine aantallen afgeschermd, afdrukbaar', async (page) => {
  const d = await checkDashboard(page);
  check(d.protected === true, 'het dashboard is voor een anonieme gebruiker niet afgeschermd');
  const k = d.min_count;
  const withheld = d.ranking.buurt.filter((r) => r.count === null);
  check(withheld.length > 0, 'geen afgeschermde buurt in de ranglijst van een anonieme gebruiker');
  await page.check('input[name="dash-level"][value="buurt"]');
  for (const r of withheld) {
    const text = (await page.textContent(`#dash-ranking tr[data-code="${r.code}"] td[data-col="count"]`)).trim();
    check(text === r.count_label && /^(<|>=) \d+$|^afgeschermd$/.test(text), `ranglijst toont "${text}" voor het afgeschermde ${r.code} (label ${r.count_label}, k ${k})`);
  }
  // Printable: the print stylesheet shows the dashboard without filters, map and controls.
  await page.emulateMedia({ media: 'print' });
  const print = await page.evaluate(() => ({
    filters: getComputedStyle(document.getElementById('filters')).display,
    dash: getComputedStyle(document.getElementById('dashboard-view')).display,
    map: getComputedStyle(document.getElementById('map')).display,
    controls: getComputedStyle(document.getElementById('dash-scope').closest('.noprint')).display,
  }));
  await page.emulateMedia({ media: 'screen' });
  check(print.filters === 'none' && print.map === 'none' && print.controls === 'none' && print.dash !== 'none', `afdrukweergave: ${JSON.stringify(print)}`);
  await shot(page, '03e-dashboard-anoniem');
  await page.click('#tabs button[data-view="kaart"]');
});

test('inloggen als analist toont wie er is ingelogd en de puntenlaag', async (page) => {
  await submitLogin(page, 'analist', DEMO_PASSWORD);
  // The app reloads after a login: wait for the new page.
  await page.waitForFunction(() => window.brandpunt && window.brandpunt.me && window.brandpunt.me.anonymous === false, null, { timeout: 30000 });
  await waitReady(page);
  const me = await pageMe(page);
  check(me.status === 200 && me.body.user === 'analist' && me.body.role === 'analyst', `/api/me na inloggen: ${JSON.stringify(me.body)}`);
  check((await page.textContent('#who-name')).trim() === 'analist', 'de kop noemt de ingelogde gebruiker niet');
  check((await page.textContent('#who-role')).includes('analist'), 'de kop noemt de rol niet');
  check(await page.isVisible('#logout'), 'geen knop Uitloggen');
  check(!(await page.isVisible('#login-form')), 'het inlogformulier staat er nog');
  const c = await privilegedControls(page);
  check(c.points === 1 && c.pointsVisible, `de analist ziet de puntenlaag niet (${JSON.stringify(c)})`);
  check(c.draw === 1, 'de analist ziet de knop Gebied tekenen niet');
  // Back to the filter of the earlier tests (the reload reset it).
  const group = ctx.filter.category;
  const v0 = await page.evaluate(() => window.brandpunt.state.filterVersion);
  await page.check(`#groups input[value="${group}"]`);
  await page.waitForFunction((v0) => window.brandpunt.state.filterVersion > v0, v0);
  await waitReady(page);
  const f = await page.evaluate(() => window.brandpunt.filterParams());
  check(JSON.stringify(f) === JSON.stringify(ctx.filter), `filter na inloggen ${JSON.stringify(f)}, verwacht ${JSON.stringify(ctx.filter)}`);
  // From here on the API checks ask as the analyst, like the page.
  ctx.cookie = ctx.analyst || (await apiLogin('analist'));
  await shot(page, '03a-ingelogd');
});

test('ingelogd als analist: het exacte aantal van die buurt', async (page) => {
  check(ctx.small, 'geen afgeschermde buurt uit de anonieme test');
  const s = await apiGet(`/api/areas/${encodeURIComponent(ctx.small.code)}/stats`, ctx.filter);
  check(s.count === ctx.small.exact && !s.suppressed, `/stats als analist: ${s.count}, eerder ${ctx.small.exact}`);
  const panel = await openBuurt(page, ctx.small.code);
  check(panel.suppressed === '0' && Number(panel.value) === s.count && panel.text === String(s.count), `zijpaneel toont "${panel.text}" voor ${ctx.small.code}, /stats als analist ${s.count}`);
  const rendered = await renderedBuurten(page);
  check(rendered[ctx.small.code] && sameAsStats(rendered[ctx.small.code], s), `tegel van ${ctx.small.code} als analist: ${JSON.stringify(rendered[ctx.small.code])}`);
  await shot(page, '03d-exact');
});

test('zijpaneel: fenomeenprofiel naar WOZ-klasse, ook per jaar, zoals de API', async (page) => {
  const code = await page.evaluate(() => window.brandpunt.state.selected && window.brandpunt.state.selected.code);
  check(code, 'geen gebied geselecteerd in het zijpaneel');
  await page.waitForSelector('#profile-show', { timeout: 15000 });
  const options = await page.$$eval('#profile-dimension option', (os) => os.map((o) => o.value));
  check(options.includes('woz'), `kenmerken in het zijpaneel: ${options.join(', ')}`);
  const f = await page.evaluate(() => window.brandpunt.filterParams());
  const rowsOf = (sel) => page.$$eval(`${sel} tbody tr`, (rows) => rows.map((r) => [r.dataset.class, r.children[1].textContent.trim()]));
  const wantRows = (rows) => rows.map((r) => [r.class, r.incidents === null ? r.count_label : String(r.incidents)]);
  await page.selectOption('#profile-dimension', 'woz');
  await page.selectOption('#profile-by', '');
  await page.click('#profile-show');
  await page.waitForSelector('#profile-overall', { timeout: 30000 });
  const v = await apiGet(`/api/areas/${encodeURIComponent(code)}/profile`, { ...f, dimension: 'woz' });
  const shown = await rowsOf('#profile-overall');
  check(JSON.stringify(shown) === JSON.stringify(wantRows(v.rows)), `profiel in het zijpaneel ${JSON.stringify(shown)}, API ${JSON.stringify(wantRows(v.rows))}`);
  check(shown.some(([c]) => c === '<150.000' || c === '150.000-200.000' || c === '>=750.000' || c === 'onbekend'), `geen WOZ-klassen: ${JSON.stringify(shown)}`);
  await page.selectOption('#profile-by', 'year');
  await page.click('#profile-show');
  await page.waitForSelector('#profile-result .profile-group, #profile-result #profile-tests-withheld, #profile-result #profile-tests', { timeout: 30000 });
  const b = await apiGet(`/api/areas/${encodeURIComponent(code)}/profile`, { ...f, dimension: 'woz', by: 'year' });
  const groups = await page.$$eval('#profile-result details.profile-group', (ds) => ds.map((d) => d.dataset.group).sort());
  const want = b.groups.filter((g) => g.incidents !== 0).map((g) => g.group).sort();
  check(JSON.stringify(groups) === JSON.stringify(want), `jaren in het zijpaneel ${groups.join(', ')}, API ${want.join(', ')}`);
  await shot(page, '03e-profiel');
});

test('dashboard als analist: cijfers gelijk aan de API, rij opent het gebied op de kaart', async (page) => {
  // The map's view before the row zooms in: restored at the end for the tests that follow.
  const camera = await page.evaluate(() => { const m = window.brandpunt.map; return { center: m.getCenter().toArray(), zoom: m.getZoom() }; });
  const d = await checkDashboard(page);
  check(d.protected === false, 'het dashboard is voor de analist afgeschermd');
  check(d.ranking.buurt.every((r) => r.count !== null), 'de analist krijgt een afgeschermd aantal in de ranglijst');
  // Sorting by name, then a row opens its area on the map.
  await page.check('input[name="dash-level"][value="buurt"]');
  await page.click('#dash-ranking th[data-sort="name"]');
  const names = await page.evaluate(() => [...document.querySelectorAll('#dash-ranking tbody tr td:first-child')].map((td) => td.textContent.trim()));
  check(names.every((n, i) => i === 0 || names[i - 1].localeCompare(n, 'nl') <= 0), `gesorteerd op naam: ${names.slice(0, 5).join(', ')}`);
  const first = await page.getAttribute('#dash-ranking tbody tr', 'data-code');
  await page.click(`#dash-ranking tbody tr[data-code="${first}"]`);
  await page.waitForFunction(() => window.brandpunt.state.view === 'kaart', null, { timeout: 10000 });
  const selected = await page.evaluate(() => window.brandpunt.state.selected && window.brandpunt.state.selected.code);
  check(selected === first, `rij ${first} opende ${selected}`);
  await page.waitForFunction(() => document.getElementById('panel-count') !== null, null, { timeout: 15000 });
  // Kleur naar an indicator: every buurt with a value gets the colour of its class in the legend.
  const t = await apiGet('/api/enrichment', { level: 'buurt' });
  const col = t.columns.find((c) => c.source === 'indicator');
  check(col, '/api/enrichment noemt geen indicatoren van de gemeente');
  await page.selectOption('#choropleth-mode', col.key);
  await mapIdle(page);
  const legendTitle = await page.textContent('#legend h4');
  check(legendTitle.includes(col.label), `legenda "${legendTitle}" noemt ${col.label} niet`);
  const { breaks, colours } = await legendState(page);
  const rendered = await renderedBuurten(page);
  const values = new Map(t.areas.filter((a) => a.values[col.key] !== undefined).map((a) => [a.code, a.values[col.key]]));
  let coloured = 0;
  for (const [code, f] of Object.entries(rendered)) {
    if (!values.has(code)) continue;
    coloured++;
    check(f.colour === expectedColour(values.get(code), breaks, colours), `buurt ${code} (${col.key} ${values.get(code)}) heeft kleur ${f.colour}`);
  }
  check(coloured > 0, `geen getekende buurt heeft een waarde voor ${col.key}`);
  // The side panel shows the buurt's indicators.
  const st = await apiGet(`/api/areas/${encodeURIComponent(first)}/stats`, ctx.filter);
  const name = col.key.slice('indicator:'.length);
  if (st.enrichment.indicators && st.enrichment.indicators[name] !== undefined) {
    check((await page.textContent('#panel-enrichment')).includes(col.label), `zijpaneel toont indicator ${col.label} van ${first} niet`);
  }
  await shot(page, '03f-kleur-naar-indicator');
  await page.selectOption('#choropleth-mode', 'count');
  await page.evaluate((c) => window.brandpunt.map.jumpTo(c), camera);
  await mapIdle(page);
});

test('incidentpunten bij inzoomen kloppen met de buurtcijfers', async (page) => {
  // The busiest buurt (current filter) that fits the view at zoom 15 (points start at 15) on a large screen.
  await page.setViewportSize({ width: 2400, height: 1800 });
  await page.evaluate(() => window.brandpunt.map.resize());
  // the analyst's own map (exact counts) for the current filter
  const ranked = busiest(await renderedBuurten(page)).filter(([, f]) => Number(f.count) > 0);
  check(ranked.length > 0, 'geen buurt met incidenten in het filter');
  let chosen = null;
  for (const [code] of ranked) {
    const b = ctx.buurten.find((x) => x.code === code);
    const fits = await page.evaluate((bbox) => {
      const m = window.brandpunt.map;
      m.jumpTo({ center: [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2], zoom: 15.05 });
      const v = m.getBounds().toArray();
      return bbox[0] > v[0][0] && bbox[1] > v[0][1] && bbox[2] < v[1][0] && bbox[3] < v[1][1];
    }, b.bbox);
    if (fits) { chosen = code; break; }
  }
  check(chosen, 'geen buurt met incidenten past in beeld op zoom 15');
  await mapIdle(page);
  const points = await page.evaluate(() => {
    const seen = new Map();
    // the same point can come from two tiles (tile buffer): one entry per feature id
    for (const f of window.brandpunt.map.queryRenderedFeatures({ layers: ['incidents-points'] })) {
      const key = f.id !== undefined ? `id:${f.id}` : `${f.properties.id}|${f.properties.begin}|${f.geometry.coordinates.join(',')}`;
      seen.set(key, f.geometry.coordinates);
    }
    return [...seen.values()];
  });
  const area = await apiGet(`/api/areas/${encodeURIComponent(chosen)}`);
  const inside = points.filter((p) => inGeometry(p, area.geometry)).length;
  const s = await apiGet(`/api/areas/${encodeURIComponent(chosen)}/stats`, ctx.filter);
  check(inside === s.count, `buurt ${chosen}: ${inside} getekende incidentpunten binnen de grens, /stats zegt ${s.count}`);
  console.log(`    ${chosen}: ${inside} punten binnen de buurt (van ${points.length} in beeld) = /stats`);
  await shot(page, '03b-incidentpunten');
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.evaluate(() => window.brandpunt.map.resize());
  await page.evaluate((bbox) => window.brandpunt.map.fitBounds(bbox, { animate: false, padding: 20 }), ctx.meta.bbox);
  await mapIdle(page);
});

test('eigen gebied tekenen en opslaan', async (page) => {
  await page.click('#draw-start');
  const box = await page.locator('#map').boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const pts = [[-70, -50], [80, -60], [90, 50], [-60, 70]].map(([dx, dy]) => [Math.round(cx + dx), Math.round(cy + dy)]);
  for (const [x, y] of pts) {
    await page.mouse.click(x, y);
    await page.waitForTimeout(350); // separate clicks, not a double-click
  }
  const expected = await page.evaluate(({ pts, left, top }) => pts.map(([x, y]) => window.brandpunt.map.unproject([x - left, y - top]).toArray()), { pts, left: box.x, top: box.y });
  await page.click('#draw-finish');
  await page.waitForSelector('#draw-save:not([hidden])');
  const name = `E2E winkelgebied ${Date.now()}`;
  await page.fill('#draw-name', name);
  await shot(page, '04a-tekenen');
  await page.click('#draw-save button[type=submit]');
  await page.waitForFunction((name) => [...document.querySelectorAll('#custom-list li')].some((li) => li.textContent.includes(name)), name, { timeout: 15000 });
  const list = await apiGet('/api/areas', { level: 'custom' });
  const a = list.find((x) => x.name === name);
  check(a, `GET /api/areas?level=custom kent "${name}" niet`);
  check(/^custom:/.test(a.code), `code ${a.code} begint niet met custom:`);
  const feat = await apiGet(`/api/areas/${encodeURIComponent(a.code)}`);
  const ring = feat.geometry.type === 'Polygon' ? feat.geometry.coordinates[0] : feat.geometry.coordinates[0][0];
  for (const [lon, lat] of expected) {
    const near = ring.some(([x, y]) => Math.abs(x - lon) < 1e-5 && Math.abs(y - lat) < 1e-5);
    check(near, `hoekpunt ${lon},${lat} (geklikt) ontbreekt in de opgeslagen geometrie`);
  }
  check(ring.length === 5 || ring.length === 4, `opgeslagen ring heeft ${ring.length} punten, verwacht 4 hoekpunten`);
  // it is selected and its stats are shown; it is offered in the compare view
  await page.waitForFunction((code) => window.brandpunt.state.selected && window.brandpunt.state.selected.code === code, a.code);
  await page.waitForSelector('#panel-count');
  const opt = await page.locator(`#compare-pick option[value="${a.code}"]`).count();
  check(opt === 1, 'het nieuwe gebied staat niet in de keuzelijst van Vergelijken');
  await mapIdle(page);
  const onMap = await page.evaluate((code) => window.brandpunt.map.queryRenderedFeatures({ layers: ['areas-fill'] }).some((f) => f.properties.code === code), a.code);
  check(onMap, 'het nieuwe gebied wordt niet op de kaart (laag areas) getekend');
  ctx.custom = a;
  await shot(page, '04b-eigen-gebied');
});

test('vergelijken toont de aantallen', async (page) => {
  check(ctx.custom, 'geen eigen gebied uit de vorige test');
  const top = busiest(await renderedBuurten(page)).slice(0, 2).map(([c]) => c); // the analyst's map
  await page.click('#tabs button[data-view="vergelijken"]');
  for (const code of [ctx.custom.code, ...top]) {
    await page.selectOption('#compare-pick', code);
    await page.click('#compare-add');
  }
  const chips = await page.locator('#compare-chips li[data-code]').count();
  check(chips === 3, `${chips} gebieden gekozen, verwacht 3`);
  await page.click('#compare-run');
  await page.waitForSelector('#compare-table tbody tr', { timeout: 20000 });
  const period = await page.evaluate(() => ({ from: document.getElementById('cmp-from').value, to: document.getElementById('cmp-to').value, vs_from: document.getElementById('cmp-vs-from').value, vs_to: document.getElementById('cmp-vs-to').value }));
  const rows = await page.$$eval('#compare-table tbody tr', (trs) => trs.map((tr) => ({
    code: tr.dataset.code,
    count: tr.querySelector('[data-col=count]').textContent,
    vs: tr.querySelector('[data-col=vs_count]').textContent,
  })));
  check(rows.length === 3, `tabel heeft ${rows.length} rijen, verwacht 3`);
  const num = (t) => Number(t.replace(/\./g, '').replace(',', '.'));
  for (const r of rows) {
    const now = await apiGet(`/api/areas/${encodeURIComponent(r.code)}/stats`, { ...ctx.filter, from: period.from, to: period.to });
    const vs = await apiGet(`/api/areas/${encodeURIComponent(r.code)}/stats`, { ...ctx.filter, from: period.vs_from, to: period.vs_to });
    // the number, or for a withheld count exactly the label /stats gives the same caller
    const same = (text, st) => (st.count === null || st.count === undefined ? text.trim() === st.count_label : num(text) === st.count);
    check(same(r.count, now), `${r.code}: tabel ${r.count}, /stats ${period.from}..${period.to} ${now.count ?? now.count_label}`);
    check(same(r.vs, vs), `${r.code}: tabel vergelijkingsperiode ${r.vs}, /stats ${period.vs_from}..${period.vs_to} ${vs.count ?? vs.count_label}`);
  }
  const charts = await page.locator('#compare-result svg.chart').count();
  // Without POST /api/compare the app falls back to /stats per period (no series, so no trend chart).
  const expect = ctx.offered.compare ? 2 : 1;
  check(charts === expect, `vergelijking heeft ${charts} grafieken, verwacht ${expect}`);
  if (!ctx.offered.compare) console.log('    (zonder POST /api/compare: de kaart rekent met /stats per periode)');
  if (ctx.offered.compare) {
    // The Excel button posts the same comparison with format=xlsx: a workbook whose first sheet has the areas.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#compare-xlsx')]);
    check(dl.suggestedFilename() === 'brandpunt-vergelijking.xlsx', `bestandsnaam ${dl.suggestedFilename()}`);
    const buf = readFileSync(await dl.path());
    check(buf.subarray(0, 2).toString('latin1') === 'PK', 'de Excel-download van de vergelijking is geen zip');
    const header = xlsxHeader(buf);
    for (const c of ['code', 'name', 'count', 'count_label', 'vs_count', 'vs_count_label', 'rate_ratio']) check(header.includes(c), `kop van de vergelijking zonder ${c}: ${header}`);
    check((await page.textContent('#compare-xlsx-error')) === '', `fout bij de download: ${await page.textContent('#compare-xlsx-error')}`);
  }
  await shot(page, '05-vergelijken');
});

test('surveillance: top 10 op de kaart en als lijst', async (page) => {
  await page.click('#tabs button[data-view="surveillance"]');
  await page.selectOption('#patrol-day', 'fri');
  await page.selectOption('#patrol-from', '20');
  await page.selectOption('#patrol-to', '2');
  await page.click('#patrol-run');
  await page.waitForSelector('#patrol-result h3, #patrol-result .error', { timeout: 20000 });
  const err = await page.locator('#patrol-result .error').count();
  check(err === 0, `surveillance gaf een fout: ${await page.textContent('#patrol-result')}`);
  const filter = await page.evaluate(() => window.brandpunt.filterParams());
  const fc = await apiGet('/api/patrol', { day: 'fri', from_hour: 20, to_hour: 2, top: 10, ...filter });
  const items = await page.locator('#patrol-list li').count();
  check(items === fc.features.length, `lijst heeft ${items} regels, API ${fc.features.length} cellen`);
  check(items > 0 && items <= 10, `lijst heeft ${items} regels, verwacht 1..10`);
  const markers = await page.locator('.rank-marker').count();
  check(markers === items, `${markers} rangnummers op de kaart, ${items} in de lijst`);
  await mapIdle(page);
  await shot(page, '06-surveillance');
}, ['patrol']);

test('verwachting: kaartlaag en surveillance tonen de cellen van de API', async (page) => {
  await page.click('#tabs button[data-view="kaart"]');
  const sourceCount = (id) => page.evaluate((id) => window.brandpunt.map.getSource(id).serialize().data.features.length, id);
  await page.check('input[data-layer="forecast"]');
  for (const top of ['5', '1']) {
    if (top !== '5') await page.selectOption('#forecast-top', top);
    await page.waitForFunction(() => document.body.dataset.forecastReady === '1', null, { timeout: 30000 });
    await mapIdle(page);
    const params = await page.evaluate((t) => window.brandpunt.forecastParams('prospective', Number(t)), top);
    const fc = await apiGet('/api/forecast', params);
    const shown = await sourceCount('forecast');
    check(fc.features.length > 0, `de API gaf geen verwachtingscellen (top ${top} %)`);
    check(shown === fc.features.length, `kaartlaag heeft ${shown} cellen, API ${fc.features.length} (top ${top} %)`);
    check(fc.top_cells === fc.features.length, `top_cells ${fc.top_cells} tegen ${fc.features.length} cellen`);
    const legend = (await page.textContent('#legend-forecast')) || '';
    check(legend.includes(`hoogste ${top} %`) && legend.includes(fc.at), `legenda van de verwachting: "${legend}" (top ${top} %, vanaf ${fc.at})`);
  }
  await shot(page, '07-verwachting');
  await page.uncheck('input[data-layer="forecast"]');
  await page.selectOption('#forecast-top', '5');
  // The patrol view draws and lists the top 5 % cells with their streets.
  await page.click('#tabs button[data-view="surveillance"]');
  await page.check('#patrol-forecast');
  await page.waitForSelector('#patrol-forecast-list li, #patrol-forecast-result .error, #patrol-forecast-result p:not(.hint)', { timeout: 30000 });
  const params = await page.evaluate(() => window.brandpunt.forecastParams('prospective', 5));
  const fc = await apiGet('/api/forecast', params);
  const items = await page.locator('#patrol-forecast-list li').count();
  check(items === fc.features.length && items > 0, `surveillance toont ${items} verwachtingscellen, API ${fc.features.length}`);
  const drawn = await sourceCount('patrol-forecast');
  check(drawn === items, `${drawn} verwachtingscellen op de kaart, ${items} in de lijst`);
  const streets = fc.features.filter((f) => f.properties.street).map((f) => f.properties.street);
  const listed = await page.textContent('#patrol-forecast-list');
  for (const s of streets.slice(0, 3)) check(listed.includes(s), `straat ${s} ontbreekt in de lijst`);
  await mapIdle(page);
  await shot(page, '07-surveillance-verwachting');
  await page.uncheck('#patrol-forecast');
}, ['forecast']);

test('verwachting: "Hoe goed voorspelt dit?" toont de toets van de API', async (page) => {
  await page.click('#tabs button[data-view="kaart"]');
  await page.click('#forecast-eval-open');
  await page.waitForFunction(() => document.body.dataset.forecastEvalReady === '1', null, { timeout: 180000 });
  const err = await page.locator('#forecast-eval-result .error').count();
  check(err === 0, `de toets gaf een fout: ${await page.textContent('#forecast-eval-result')}`);
  const params = await page.evaluate(() => window.brandpunt.evaluationParams());
  const ev = await apiGet('/api/forecast/evaluate', params);
  const rows = await page.$$eval('#forecast-eval-table tbody tr', (trs) => trs.map((tr) => ({
    method: tr.dataset.method,
    coverage: Number(tr.dataset.coverage),
    hit: tr.querySelector('.hit').textContent,
    pai: tr.querySelector('.pai').textContent,
    p: tr.querySelector('.p').textContent,
    verdict: tr.querySelector('.verdict').textContent,
  })));
  // The test's own Dutch formatting of the API's numbers.
  const nl = (v, d) => (v === null || v === undefined ? '–' : Number(v).toLocaleString('nl-NL', { minimumFractionDigits: d, maximumFractionDigits: d }));
  let expected = 0;
  for (const m of ev.methods) {
    for (const c of m.coverages) {
      expected++;
      const r = rows.find((x) => x.method === m.method && x.coverage === c.coverage_pct);
      check(r, `geen regel voor ${m.method} bij ${c.coverage_pct} %`);
      const hit = c.mean.hit_rate === null ? '–' : `${nl(c.mean.hit_rate * 100, 1)} %`;
      check(r.hit === hit, `${m.method} ${c.coverage_pct} %: trefferratio "${r.hit}", API ${hit}`);
      check(r.pai === nl(c.mean.pai, 2), `${m.method} ${c.coverage_pct} %: PAI "${r.pai}", API ${c.mean.pai}`);
      check(r.verdict === c.verdict, `${m.method} ${c.coverage_pct} %: oordeel "${r.verdict}", API "${c.verdict}"`);
      if (m.method === ev.baseline) {
        check(r.verdict === 'referentie' && r.p === '–', `${m.method}: de referentie heeft geen toets (${r.verdict}, ${r.p})`);
      } else {
        check(r.p === nl(c.test.p, 3), `${m.method} ${c.coverage_pct} %: p "${r.p}", API ${c.test.p}`);
        const want = c.test.p < 0.05 ? 'beter dan tellen' : 'niet beter dan tellen';
        check(r.verdict === want, `${m.method} ${c.coverage_pct} %: p = ${c.test.p} maar oordeel "${r.verdict}"`);
      }
    }
  }
  check(rows.length === expected && expected === 16, `${rows.length} regels, API ${expected}`);
  await shot(page, '07-verwachting-toets');
  await page.click('#forecast-eval-open');
}, ['forecastEval']);

test('links voor BI volgen het filter en werken', async (page) => {
  await page.click('#tabs button[data-view="links"]');
  const urls = await page.$$eval('#links input', (is) => is.map((i) => i.value));
  check(urls.length >= 5, `${urls.length} links, verwacht minstens 5`);
  const cat = ctx.filter.category;
  for (const u of urls) check(u.includes(`category=${encodeURIComponent(cat)}`), `link ${u} bevat het categoriefilter niet`);
  const geojson = urls.find((u) => u.includes('/api/stats.geojson'));
  check(geojson, 'geen GeoJSON-link');
  if (ctx.offered.statsGeojson) {
    const res = await fetch(geojson);
    check(res.ok, `GeoJSON-link gaf ${res.status}`);
    const fc = await res.json();
    check(fc.type === 'FeatureCollection' && fc.features.length > 0, 'GeoJSON-link gaf geen features');
  } else {
    console.log('    (GeoJSON-link niet gecontroleerd: de server heeft /api/stats.geojson nog niet)');
  }
  const tj = urls.find((u) => u.includes('/tiles/buurten.json'));
  const tjRes = await fetch(tj);
  check(tjRes.ok, `TileJSON-link gaf ${tjRes.status}`);
  const tileJson = await tjRes.json();
  // The server may normalise the filter (a group expanded to its codes); it must mean the same.
  const tq = new URL(tileJson.tiles[0].replace('{z}/{x}/{y}', '0/0/0')).searchParams;
  const group = (ctx.meta.groups || []).find((g) => g.name === cat);
  const tCat = (tq.get('category') || '').split(',').sort().join(',');
  check(tCat === cat || (group && tCat === [...group.codes].sort().join(',')), `TileJSON-categorie "${tq.get('category')}" is niet het filter "${cat}"`);
  check(tq.get('from') === ctx.filter.from && tq.get('to') === ctx.filter.to, `TileJSON-periode ${tq.get('from')}..${tq.get('to')} is niet ${ctx.filter.from}..${ctx.filter.to}`);
  const tile = urls.find((u) => u.includes('.mvt'));
  const t = await fetch(tile.replace('{z}/{x}/{y}', await page.evaluate(() => {
    const m = window.brandpunt.map;
    const z = Math.floor(m.getZoom());
    const c = m.getCenter();
    const n = 2 ** z;
    const x = Math.floor(((c.lng + 180) / 360) * n);
    const lat = (c.lat * Math.PI) / 180;
    const y = Math.floor(((1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2) * n);
    return `${z}/${x}/${y}`;
  })));
  check(t.status === 200, `tegel-link gaf ${t.status}`);
  await shot(page, '07-links');
});

test('Excel-knop van de cijfers per buurt geeft een werkmap met de kolommen van de CSV', async (page) => {
  await page.click('#tabs button[data-view="links"]');
  const link = page.locator('#download-stats-xlsx');
  check((await link.textContent()).trim() === 'Download Excel (.xlsx)', `knoptekst "${await link.textContent()}"`);
  const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
  check(/^brandpunt-buurt\.xlsx$/.test(dl.suggestedFilename()), `bestandsnaam ${dl.suggestedFilename()}`);
  const buf = readFileSync(await dl.path());
  check(buf.subarray(0, 2).toString('latin1') === 'PK', `het bestand begint met ${JSON.stringify(buf.subarray(0, 4).toString('latin1'))}, geen zip`);
  // The expected header: the CSV's of the same filter and caller, without the geometry column.
  const csvUrl = (await page.getAttribute('#download-stats-csv', 'href'));
  check(csvUrl.replace('/api/stats.csv', '/api/stats.xlsx') === (await link.getAttribute('href')), 'CSV- en Excel-knop hebben niet hetzelfde filter');
  const res = await fetch(csvUrl, { headers: ctx.cookie ? { Cookie: ctx.cookie } : {} });
  check(res.ok, `CSV gaf ${res.status}`);
  const csvHeader = (await res.text()).split('\n')[0].trim().split(',');
  check(csvHeader.pop() === 'wkt', 'de CSV eindigt niet op wkt');
  const header = xlsxHeader(buf);
  check(JSON.stringify(header) === JSON.stringify(csvHeader), `kop van de werkmap ${JSON.stringify(header)}, CSV ${JSON.stringify(csvHeader)}`);
  check(header.includes('count') && header.includes('count_label'), `kop zonder count/count_label: ${header}`);
});

test('zonder relatierecht geen tab Relaties', async (page) => {
  const me = await pageMe(page);
  check(me.body && me.body.relations === false, `/api/me noemt geen ontbrekend relatierecht: ${JSON.stringify(me.body)}`);
  check(!(await page.isVisible('#tab-relaties')), `${me.body && me.body.user} ziet de tab Relaties zonder het recht`);
  const r = await fetch(`${BASE}/api/relations/components`, { headers: ctx.cookie ? { Cookie: ctx.cookie } : {} });
  check(r.status === 403, `/api/relations/components zonder recht gaf ${r.status}`);
});

/** Node ids and edge count of the Cytoscape graph in the page. */
async function shownGraph(page) {
  return page.evaluate(() => {
    const cy = window.brandpunt.relations.cy;
    return { nodes: cy.nodes().map((n) => n.id()).sort(), edges: cy.edges().length };
  });
}
function idsOf(answer) {
  return answer.elements.nodes.map((n) => n.data.id).sort();
}

test('Relaties: het netwerk toont wat de API geeft, uitbreiden voegt knooppunten toe', async (page) => {
  await page.click('#tabs button[data-view="kaart"]');
  await page.click('#logout');
  await page.waitForFunction(() => window.brandpunt && window.brandpunt.me && window.brandpunt.me.anonymous === true, null, { timeout: 30000 });
  await waitReady(page);
  await submitLogin(page, RELATIONS_USER, DEMO_PASSWORD);
  await page.waitForFunction((u) => window.brandpunt && window.brandpunt.me && window.brandpunt.me.user === u, RELATIONS_USER, { timeout: 30000 });
  await waitReady(page);
  ctx.cookie = await apiLogin(RELATIONS_USER);
  check(await page.isVisible('#tab-relaties'), 'de tab Relaties ontbreekt voor een gebruiker met het recht');
  // The page's filter applies to the view: the API is asked with the same.
  const f = await page.evaluate(() => window.brandpunt.filterParams());
  // A subject in at least 2 registrations: its network has several registrations to expand.
  const repeats = await apiGet('/api/relations/repeats', { ...f, min_sources: 64, min_registrations: 2 });
  check(repeats.subjects.length > 0, 'de API geeft geen persoon of voertuig in 2 registraties');
  const subject = repeats.subjects[0].id;
  await page.evaluate((n) => window.brandpunt.relations.openNetwork(n), subject);
  await page.waitForFunction(() => document.body.dataset.view === 'relaties' && Number(document.getElementById('relations-count').dataset.nodes) > 0, null, { timeout: 30000 });
  const api1 = await apiGet('/api/relations/neighbours', { ...f, node: subject, depth: 1 });
  let shown = await shownGraph(page);
  check(JSON.stringify(shown.nodes) === JSON.stringify(idsOf(api1)), `knooppunten in beeld ${shown.nodes.length}, API ${api1.elements.nodes.length}`);
  check(shown.edges === api1.elements.edges.length, `verbindingen in beeld ${shown.edges}, API ${api1.elements.edges.length}`);
  const counted = await page.evaluate(() => document.getElementById('relations-count').dataset);
  check(Number(counted.nodes) === shown.nodes.length && Number(counted.edges) === shown.edges, `de teller zegt ${counted.nodes}/${counted.edges}`);
  // The network's registrations on the map: those of the address-level export (same filter) that are in it.
  await page.waitForFunction(() => document.getElementById('relations-on-map').dataset.ready === '1', null, { timeout: 30000 });
  const regs = new Set(api1.elements.nodes.filter((n) => n.data.kind === 'incident').map((n) => n.data.label));
  const located = (await apiGet('/api/incidents.geojson', f)).features.filter((x) => regs.has(x.properties.registration)).length;
  const onMap = Number(await page.evaluate(() => document.getElementById('relations-on-map').dataset.points));
  check(onMap === located, `${onMap} registraties op de kaart, de export geeft er ${located}`);
  // Expand a neighbour whose own neighbours are not all shown yet (chosen with the API), by tapping it.
  let target = null;
  let union = null;
  for (const id of idsOf(api1)) {
    if (id === subject) continue;
    const more = await apiGet('/api/relations/neighbours', { ...f, node: id, depth: 1 });
    const all = new Set([...idsOf(api1), ...idsOf(more)]);
    if (all.size > api1.elements.nodes.length) { target = id; union = all; break; }
  }
  check(target, 'geen buur om uit te breiden');
  await page.evaluate((id) => window.brandpunt.relations.cy.getElementById(id).emit('tap'), target);
  await page.waitForFunction((n) => Number(document.getElementById('relations-count').dataset.nodes) === n, union.size, { timeout: 30000 });
  shown = await shownGraph(page);
  check(JSON.stringify(shown.nodes) === JSON.stringify([...union].sort()), `na uitbreiden ${shown.nodes.length} knooppunten, verwacht ${union.size}`);
  const href = await page.getAttribute('#relations-exports a[data-format="graphml"]', 'href');
  check(href && href.includes('/api/relations/export.graphml') && href.includes(encodeURIComponent(subject)), `exportknop: ${href}`);
  await shot(page, '07c-relaties');
});

test('uitloggen: puntenlaag en tekenen weer weg', async (page) => {
  await page.click('#tabs button[data-view="kaart"]');
  await page.click('#logout');
  ctx.cookie = null;
  await page.waitForFunction(() => window.brandpunt && window.brandpunt.me && window.brandpunt.me.anonymous === true, null, { timeout: 30000 });
  await waitReady(page);
  const me = await pageMe(page);
  check(me.body && me.body.anonymous === true, `/api/me na uitloggen: ${JSON.stringify(me.body)}`);
  const c = await privilegedControls(page);
  check(c.points === 0 && !c.pointsVisible && c.draw === 0, `na uitloggen nog zichtbaar: ${JSON.stringify(c)}`);
  check(await page.isVisible('#login-form'), 'na uitloggen geen inlogformulier');
  await shot(page, '07b-uitgelogd');
});

test('zonder internet: geen verzoeken naar buiten, achtergrondkaart faalt netjes', async (page) => {
  check(ctx.external.length === 0, `verzoeken naar buiten zonder achtergrondkaart: ${ctx.external.slice(0, 3).join(', ')}`);
  ctx.basemapOn = true;
  await page.click('#tabs button[data-view="kaart"]');
  await page.check('input[data-layer="basemap"]');
  await page.waitForTimeout(1500);
  await mapIdle(page);
  const n = await page.evaluate(() => window.brandpunt.map.queryRenderedFeatures({ layers: ['buurten-fill'] }).length);
  check(n > 0, 'na het aanzetten van de achtergrondkaart (offline) zijn er geen buurten meer');
  await page.uncheck('input[data-layer="basemap"]');
  await shot(page, '08-offline');
});

// ---------- run ----------
const userDataDir = mkdtempSync(join(tmpdir(), 'brandpunt-e2e-'));
let passed = 0;
let failed = 0;
let skipped = 0;
{
  const buurten = await (await fetch(`${BASE}/api/areas?level=buurt`)).json().catch(() => []);
  const code = encodeURIComponent((buurten[0] && buurten[0].code) || 'BU0000');
  ctx.offered = {
    timeseries: await offers('GET', `/api/areas/${code}/timeseries?step=month`),
    hourOfWeek: await offers('GET', `/api/areas/${code}/hour-of-week`),
    compare: await offers('POST', '/api/compare', {}),
    patrol: await offers('GET', '/api/patrol?day=fri&from_hour=20&to_hour=2&top=10'),
    forecast: await offers('GET', '/api/forecast?top=5'),
    forecastEval: await offers('GET', '/api/forecast/evaluate?folds=1&methods=naive'),
    statsGeojson: await offers('GET', '/api/stats.geojson?level=buurt'),
  };
  const missing = Object.entries(ctx.offered).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length) console.log(`server biedt (nog) niet: ${missing.join(', ')}`);
}
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    locale: 'nl-NL',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(15000);
  const pageErrors = [];
  ctx.external = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('ERR_INTERNET_DISCONNECTED')) console.log(`    [console] ${m.text()}`); });
  // No internet in tests: anything not on the server is blocked (and recorded).
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(BASE) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    if (!ctx.basemapOn) ctx.external.push(url);
    return route.abort('internetdisconnected');
  });
  for (const t of tests) {
    if (ONLY && !t.name.includes(ONLY)) continue;
    const lacking = t.needs.filter((n) => !ctx.offered[n]);
    if (lacking.length) {
      skipped++;
      console.log(`OVERGESLAGEN ${t.name}: de server heeft ${lacking.join(', ')} nog niet`);
      continue;
    }
    const errsBefore = pageErrors.length;
    try {
      await t.fn(page);
      check(pageErrors.length === errsBefore, `JavaScript-fout in de pagina: ${pageErrors.slice(errsBefore).join(' | ')}`);
      passed++;
      console.log(`ok   ${t.name}`);
    } catch (e) {
      failed++;
      console.log(`FOUT ${t.name}: ${e instanceof CheckError ? e.message : e.stack}`);
      try { await shot(page, `fout-${tests.indexOf(t)}`); } catch (_) { /* page may be gone */ }
    }
  }
} catch (e) {
  failed++;
  console.log(`FOUT starten van chromium: ${e.stack}`);
} finally {
  if (context) await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(`schermafdrukken: ${OUT}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
