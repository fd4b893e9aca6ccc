// Build step of the web map: copies src/ and the MapLibre GL JS distribution into dist/.
// No bundler: the app is plain ES modules; maplibre-gl.js is loaded as a classic script (global `maplibregl`).
import { cpSync, mkdirSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const maplibre = join(here, 'node_modules', 'maplibre-gl', 'dist');
if (!existsSync(maplibre)) {
  console.error('maplibre-gl ontbreekt: voer eerst `npm ci` uit in web/');
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'vendor'), { recursive: true });
cpSync(join(here, 'src'), dist, { recursive: true });
for (const f of ['maplibre-gl.js', 'maplibre-gl.css', 'LICENSE.txt']) {
  cpSync(join(maplibre, f), join(dist, 'vendor', f === 'LICENSE.txt' ? 'maplibre-gl-LICENSE.txt' : f));
}
console.log(`web/dist gebouwd (${readdirSync(dist).length} items)`);
