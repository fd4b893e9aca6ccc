// Polygon drawing on a MapLibre map with a GeoJSON source: click adds a vertex, double-click (or the
// "Afronden" button calling finish()) closes the polygon. A click within 6 px of the previous vertex is
// ignored (a double-click also fires two clicks).

export const DRAW_SOURCE = 'draw';

export class PolygonDrawer {
  /**
   * @param map MapLibre map whose style has a GeoJSON source named DRAW_SOURCE.
   * @param onChange called with the vertex count after every change.
   * @param onFinish called with a GeoJSON Polygon geometry (WGS84, closed ring) when finished.
   */
  constructor(map, { onChange, onFinish }) {
    this.map = map;
    this.onChange = onChange || (() => {});
    this.onFinish = onFinish || (() => {});
    this.vertices = [];
    this.active = false;
    this.finished = null;
    this._click = (e) => this._addVertex(e);
    this._dbl = (e) => {
      e.preventDefault();
      this.finish();
    };
  }

  start() {
    this.cancel();
    this.active = true;
    this.map.doubleClickZoom.disable();
    this.map.getCanvas().style.cursor = 'crosshair';
    this.map.on('click', this._click);
    this.map.on('dblclick', this._dbl);
    this._render();
  }

  _addVertex(e) {
    if (!this.active) return;
    const last = this.vertices[this.vertices.length - 1];
    if (last) {
      const p = this.map.project(last);
      if (Math.hypot(p.x - e.point.x, p.y - e.point.y) < 6) return;
    }
    this.vertices.push([e.lngLat.lng, e.lngLat.lat]);
    this._render();
    this.onChange(this.vertices.length);
  }

  /** Closes the polygon; returns false (and keeps drawing) when it has fewer than 3 vertices. */
  finish() {
    if (!this.active) return false;
    if (this.vertices.length < 3) return false;
    this._stopListening();
    const ring = [...this.vertices, this.vertices[0]];
    this.finished = { type: 'Polygon', coordinates: [ring] };
    this._render();
    this.onFinish(this.finished);
    return true;
  }

  /** Removes the sketch and stops drawing. */
  cancel() {
    this._stopListening();
    this.vertices = [];
    this.finished = null;
    this._render();
    this.onChange(0);
  }

  _stopListening() {
    this.active = false;
    this.map.off('click', this._click);
    this.map.off('dblclick', this._dbl);
    this.map.getCanvas().style.cursor = '';
    // Re-enable double-click zoom after the dblclick event has been handled.
    setTimeout(() => this.map.doubleClickZoom.enable(), 0);
  }

  _render() {
    const src = this.map.getSource(DRAW_SOURCE);
    if (!src) return;
    const features = this.vertices.map((c) => ({ type: 'Feature', properties: { kind: 'vertex' }, geometry: { type: 'Point', coordinates: c } }));
    if (this.finished) {
      features.push({ type: 'Feature', properties: { kind: 'polygon' }, geometry: this.finished });
    } else if (this.vertices.length >= 2) {
      features.push({ type: 'Feature', properties: { kind: 'line' }, geometry: { type: 'LineString', coordinates: this.vertices } });
    }
    src.setData({ type: 'FeatureCollection', features });
  }
}
