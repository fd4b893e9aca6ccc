// Build step of the web map: copies src/ and the MapLibre GL JS and Cytoscape.js distributions into dist/.
// No bundler: the app is plain ES modules; maplibre-gl.js and cytoscape.min.js are loaded as classic scripts
// (globals `maplibregl` and `cytoscape`).
import { cpSync, mkdirSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const maplibre = join(here, 'node_modules', 'maplibre-gl', 'dist');
const cytoscape = join(here, 'node_modules', 'cytoscape');
if (!existsSync(maplibre) || !existsSync(cytoscape)) {
  console.error('maplibre-gl of cytoscape ontbreekt: voer eerst `npm ci` uit in web/');
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'vendor'), { recursive: true });
cpSync(join(here, 'src'), dist, { recursive: true });
for (const f of ['maplibre-gl.js', 'maplibre-gl.css', 'LICENSE.txt']) {
  cpSync(join(maplibre, f), join(dist, 'vendor', f === 'LICENSE.txt' ? 'maplibre-gl-LICENSE.txt' : f));
}
cpSync(join(cytoscape, 'dist', 'cytoscape.min.js'), join(dist, 'vendor', 'cytoscape.min.js'));
cpSync(join(cytoscape, 'LICENSE'), join(dist, 'vendor', 'cytoscape-LICENSE.txt'));
console.log(`web/dist gebouwd (${readdirSync(dist).length} items)`);
