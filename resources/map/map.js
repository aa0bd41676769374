/*
 * Vigie map page.
 *
 * Talks to Python through a QWebChannel object called `bridge` (the contract is in
 * docs/architecture.md, "The map bridge"): Python pushes JSON strings through signals, we call its slots back.
 *
 * Sections:
 *   1. constants and shared state
 *   2. asset store (plain arrays, so 50,000 assets cost no Leaflet objects)
 *   3. map setup and panes
 *   4. basemap (dark vector layers and/or raster tiles)
 *   5. points layer (one canvas for every fixed asset, with a screen-space hit grid)
 *   6. vehicles (one divIcon marker each, animated with requestAnimationFrame)
 *   7. legend / layer toggles and the coordinates control
 *   8. interaction (hover tooltip, click, right click, selection, view reporting)
 *   9. bridge (QWebChannel wiring) and the test hooks (window.vigieMap)
 */
(function () {
  'use strict';

  // ---------------------------------------------------------------------------------------
  // 1. constants and shared state
  // ---------------------------------------------------------------------------------------

  // Order of the legend rows and of the drawing passes (small background things first).
  var KIND_ORDER = ['camera', 'traffic_signal', 'street_light', 'bollard', 'access_point',
    'delivery_bay', 'water_sensor', 'tram_station', 'vehicle'];
  var STATUS_ORDER = ['ok', 'warning', 'fault', 'offline', 'maintenance'];
  // Problems are drawn last so the most serious one ends up on top.
  var BAD_DRAW_ORDER = ['maintenance', 'offline', 'warning', 'fault'];

  var DEFAULT_STATUS_COLORS = {
    ok: '#3fb950', warning: '#d29922', fault: '#f85149', offline: '#8b949e', maintenance: '#a371f7'
  };
  var FLEET_COLORS = { police: '#58a6ff', technical: '#e3b341' };
  var OUTLINE = '#0b0e12';
  var SELECT_RING = '#ffffff';
  var SELECT_HALO = '#58a6ff';
  var ALARM_CAMERA = '#f0883e';  // the cameras covering the selected alarm (the tiles' alarm colour)

  var STALE_AFTER_S = 30;      // a vehicle older than this is drawn greyed / dashed
  var STALE_CHECK_MS = 2000;
  var MOVE_ANIM_MS = 900;      // a bit under the 1 s update period: smooth, never lagging behind
  var VIEW_DEBOUNCE_MS = 300;
  var HIT_RADIUS_PX = 8;
  var GRID_CELL_PX = 16;
  // Past this share of the canvas's cells, a batch redraws everything instead: drawing under a
  // clip of hundreds of rectangles costs Skia more than a whole canvas without one (bench/map_page.py
  // at zoom 14, renderer main thread: 200 status changes a batch, 8 % of the cells, 2.9 % of a
  // core partial against 3.7 % full; 500 changes, 17 % of the cells, 5.2-6.2 % against 4.3-4.7 %).
  var PARTIAL_MAX_SHARE = 0.1;
  var CELL_PX = 16;            // the points canvas is redrawn in squares of this size when few assets change

  var DEFAULT_CENTER = [47.322, 5.041];
  var DEFAULT_ZOOM = 13;

  var state = {
    bridge: null,
    ready: false,            // true once the first assetsReset has been drawn
    alarm: null,             // the selected alarm's marker ({id, asset_id, color, label, cameras})
    resetPending: false,
    style: { status_colors: Object.assign({}, DEFAULT_STATUS_COLORS), status_labels: {}, kind_labels: {} },
    visible: {},             // kind -> bool (missing = visible)
    selected: '',
    basemapCounts: {},
    perf: { lastRedrawMs: 0, redrawMsTotal: 0, redraws: 0, partialRedraws: 0, firstDrawMs: null, resetReceivedAt: 0, animMsTotal: 0,
      animFrames: 0 }
  };

  function isVisible(kind) { return state.visible[kind] !== false; }
  function statusColor(s) { return state.style.status_colors[s] || DEFAULT_STATUS_COLORS[s] || '#8b949e'; }
  function statusLabel(s) { return state.style.status_labels[s] || s; }
  function kindLabel(k) {
    if (state.style.kind_labels[k]) return state.style.kind_labels[k];
    var t = String(k).replace(/_/g, ' ');
    return t.charAt(0).toUpperCase() + t.slice(1);
  }
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  // ---------------------------------------------------------------------------------------
  // 2. asset store
  // ---------------------------------------------------------------------------------------
  // Struct-of-arrays keyed by an index; `index` maps id -> slot. Web-Mercator coordinates
  // (mx, my in [0, 1]) are computed once per position so a redraw is just multiply + add.

  var store = {
    index: new Map(),
    id: [], kind: [], name: [], lat: [], lon: [], status: [], heading: [], label: [], updated: [],
    mx: [], my: [],
    counts: {},
    cols: null
  };
  var DEFAULT_COLUMNS = ['id', 'kind', 'name', 'lat', 'lon', 'status', 'heading', 'label', 'updated'];

  function setColumns(columns) {
    var c = {};
    (columns || DEFAULT_COLUMNS).forEach(function (name, i) { c[name] = i; });
    store.cols = c;
  }
  setColumns(DEFAULT_COLUMNS);

  function mercX(lon) { return lon / 360 + 0.5; }
  function mercY(lat) {
    var s = Math.sin(Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI / 180);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  }

  function clearStore() {
    store.index = new Map();
    ['id', 'kind', 'name', 'lat', 'lon', 'status', 'heading', 'label', 'updated', 'mx', 'my']
      .forEach(function (k) { store[k] = []; });
    store.counts = {};
  }

  /* Insert or update one row; returns {i, isNew, moved, fixedChanged}. */
  function upsertRow(row) {
    var c = store.cols;
    var id = String(row[c.id]);
    var kind = String(row[c.kind]);
    var lat = +row[c.lat], lon = +row[c.lon];
    var i = store.index.get(id);
    var isNew = i === undefined;
    if (isNew) {
      i = store.id.length;
      store.index.set(id, i);
      store.id.push(id);
      store.kind.push(kind);
      store.counts[kind] = (store.counts[kind] || 0) + 1;
    } else if (store.kind[i] !== kind) {
      store.counts[store.kind[i]]--;
      store.counts[kind] = (store.counts[kind] || 0) + 1;
      if (store.kind[i] === 'vehicle') vehicles.remove(id);
      store.kind[i] = kind;
    }
    store.name[i] = row[c.name] == null ? id : String(row[c.name]);
    store.status[i] = String(row[c.status] || 'ok');
    store.heading[i] = +row[c.heading] || 0;
    store.label[i] = c.label === undefined || row[c.label] == null ? '' : String(row[c.label]);
    store.updated[i] = c.updated === undefined ? 0 : (+row[c.updated] || 0);
    store.lat[i] = lat;
    store.lon[i] = lon;
    store.mx[i] = mercX(lon);
    store.my[i] = mercY(lat);
    return i;
  }

  /* Store a batch of rows. Fixed assets that only changed their look in place (status, heading)
     are listed in `dirty` (the points layer redraws around them); a new one, a move or a change of
     kind sets `fixedFull` (the points layer redraws everything). */
  function ingestRows(rows) {
    var c = store.cols;
    var fixedChanged = false, fixedFull = false, kindChanged = false, dirty = [], before = store.id.length;
    for (var r = 0; r < rows.length; r++) {
      var j = store.index.get(String(rows[r][c.id]));
      var oldKind = j === undefined ? null : store.kind[j];
      var oldLat = j === undefined ? 0 : store.lat[j], oldLon = j === undefined ? 0 : store.lon[j];
      var i = upsertRow(rows[r]);
      var kind = store.kind[i];
      if (oldKind !== null && oldKind !== kind) kindChanged = true;
      if (kind === 'vehicle') {
        vehicles.upsert(i);
        if (oldKind !== null && oldKind !== 'vehicle') { fixedChanged = true; fixedFull = true; }
        continue;
      }
      fixedChanged = true;
      if (oldKind !== kind || oldLat !== store.lat[i] || oldLon !== store.lon[i]) fixedFull = true;
      else dirty.push(i);
    }
    return { fixedChanged: fixedChanged, fixedFull: fixedFull, dirty: dirty, countsChanged: kindChanged || store.id.length !== before };
  }

  /* Status changes alone, as {status: [slot, ...]} (a slot is an asset's index in the store, in the
     order rows reached the page): no row to parse, no position to project. Fixed assets join
     `res.dirty` (ingestRows' result), vehicles restyle their marker. */
  function ingestStatuses(byStatus, res) {
    var n = store.id.length;
    Object.keys(byStatus).forEach(function (st) {
      var slots = byStatus[st], s = String(st || 'ok');
      for (var k = 0; k < slots.length; k++) {
        var i = slots[k];
        if (!(i >= 0 && i < n)) continue;   // not a slot of this store (cannot happen after a reset)
        store.status[i] = s;
        if (store.kind[i] === 'vehicle') { vehicles.upsert(i); continue; }
        res.fixedChanged = true;
        res.dirty.push(i);
      }
    });
  }

  // ---------------------------------------------------------------------------------------
  // 3. map setup and panes
  // ---------------------------------------------------------------------------------------

  var map = L.map('map', {
    preferCanvas: true,
    zoomControl: true,
    center: DEFAULT_CENTER,
    zoom: DEFAULT_ZOOM,
    minZoom: 11,
    maxZoom: 19,
    zoomSnap: 0.25,               // a framed city or district fills the panel better than whole levels
    attributionControl: true,
    worldCopyJump: false
  });
  // Plain-text credit: a link would navigate the embedded view away from the map.
  map.attributionControl.setPrefix('Leaflet');
  L.control.scale({ metric: true, imperial: false, position: 'bottomleft' }).addTo(map);

  // Panes, bottom to top: tiles (200), vector basemap (250), district labels (350),
  // fixed assets (450), vehicles (620). Leaflet's tooltip/popup panes stay above.
  map.createPane('vgBase').style.zIndex = 250;
  map.createPane('vgLabels').style.zIndex = 350;
  map.createPane('vgPoints').style.zIndex = 450;
  map.createPane('vgVehicles').style.zIndex = 620;

  // Zoom classes let CSS show/hide labels without touching every marker.
  function updateZoomClasses() {
    var z = map.getZoom(), el = map.getContainer();
    L.DomUtil[z >= 14 ? 'addClass' : 'removeClass'](el, 'vg-zoom-ge14');
    L.DomUtil[z >= 16 ? 'addClass' : 'removeClass'](el, 'vg-zoom-ge16');
    L.DomUtil[z < 12 ? 'addClass' : 'removeClass'](el, 'vg-zoom-lt12');
    L.DomUtil[z < 14 ? 'addClass' : 'removeClass'](el, 'vg-zoom-lt14');
  }
  map.on('zoomend', updateZoomClasses);
  updateZoomClasses();

  // ---------------------------------------------------------------------------------------
  // 4. basemap
  // ---------------------------------------------------------------------------------------
  // Vector layers go through one Leaflet canvas renderer in their own pane and are not
  // interactive (the renderer then never hit-tests thousands of street segments).

  var baseRenderer = L.canvas({ pane: 'vgBase', padding: 0.3 });
  var basemap = { tiles: null, layers: [], labels: null, styled: [] };

  var DISTRICT_TINTS = ['#58a6ff', '#3fb950', '#d29922', '#a371f7', '#db61a2', '#39c5cf',
    '#e3b341', '#f0883e', '#7ee787', '#79c0ff'];
  var TRAM_COLORS = { T1: '#b07cff', T2: '#ff9f43' };
  var STREET_STYLE = {
    street: { color: '#2d343e', base: 0.9 },
    avenue: { color: '#46505d', base: 1.7 },
    ring: { color: '#5d6978', base: 2.6 }
  };

  function streetWeight(cls, z) {
    var s = STREET_STYLE[cls] || STREET_STYLE.street;
    return Math.min(16, s.base * Math.pow(1.5, Math.max(0, z - 13)));
  }
  function tramWeight(z) { return Math.min(7, 2.4 + Math.max(0, z - 13) * 0.8); }

  function notPoint(f) { return f && f.geometry && f.geometry.type !== 'Point' && f.geometry.type !== 'MultiPoint'; }

  function geo(fc, style, filter) {
    return L.geoJSON(fc, {
      renderer: baseRenderer,
      pane: 'vgBase',
      interactive: false,
      style: style,
      filter: filter || notPoint
    });
  }

  function clearBasemap() {
    if (basemap.tiles) map.removeLayer(basemap.tiles);
    basemap.layers.forEach(function (l) { map.removeLayer(l); });
    if (basemap.labels) map.removeLayer(basemap.labels);
    basemap.tiles = null;
    basemap.layers = [];
    basemap.labels = null;
    basemap.styled = [];
    state.basemapCounts = {};
  }

  /* Area centroid of a ring ([lon, lat] pairs), good enough at city scale for a label. */
  function ringCentroid(ring) {
    var a = 0, cx = 0, cy = 0;
    for (var i = 0, n = ring.length, j = n - 1; i < n; j = i++) {
      var f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
      a += f; cx += (ring[j][0] + ring[i][0]) * f; cy += (ring[j][1] + ring[i][1]) * f;
    }
    if (Math.abs(a) < 1e-12) return ring[0];
    return [cx / (3 * a), cy / (3 * a)];
  }

  function setBasemap(msg) {
    clearBasemap();
    var layers = msg.layers || {};
    var hasTiles = !!(msg.tiles && msg.tiles.url);
    var z = map.getZoom();

    if (hasTiles) {
      var t = msg.tiles;
      var native = +t.maxZoom || 19;
      basemap.tiles = L.tileLayer(t.url, {
        maxNativeZoom: native,        // past it Leaflet scales the last level up
        maxZoom: 19,
        attribution: t.attribution || '',
        className: 'vg-tiles'
      }).addTo(map);
      state.basemapCounts.tiles = 1;
    }

    Object.keys(layers).forEach(function (k) {
      var fc = layers[k];
      state.basemapCounts[k] = fc && fc.features ? fc.features.length : 0;
    });

    function add(layer) { layer.addTo(map); basemap.layers.push(layer); return layer; }

    // Districts: faint tinted fills (none over tiles) with thin borders.
    if (layers.districts) {
      var di = 0;
      add(geo(layers.districts, function () {
        var tint = DISTRICT_TINTS[di++ % DISTRICT_TINTS.length];
        return {
          color: '#4a5868', weight: 1, opacity: 0.8, dashArray: '4 4',
          fillColor: tint, fillOpacity: hasTiles ? 0 : 0.045
        };
      }));
      // Labels: a non-interactive divIcon per district, in their own pane.
      var labels = [];
      layers.districts.features.forEach(function (f) {
        if (!f.geometry || f.geometry.type !== 'Polygon') return;
        var c = ringCentroid(f.geometry.coordinates[0]);
        var name = (f.properties && f.properties.name) || '';
        labels.push(L.marker([c[1], c[0]], {
          pane: 'vgLabels', interactive: false, keyboard: false,
          icon: L.divIcon({ className: 'vg-district-icon', iconSize: [0, 0],
            html: '<span class="vg-district-label">' + escapeHtml(name) + '</span>' })
        }));
      });
      basemap.labels = L.layerGroup(labels).addTo(map);
    }
    if (layers.parks) {
      add(geo(layers.parks, function () {
        return { stroke: true, color: '#1f3d29', weight: 1, fillColor: '#173223', fillOpacity: hasTiles ? 0.3 : 0.9 };
      }));
    }
    if (layers.water) {
      var water = add(geo(layers.water, function (f) {
        var line = f.geometry.type === 'LineString' || f.geometry.type === 'MultiLineString';
        return line
          ? { color: '#1c4a74', weight: Math.max(2, streetWeight('avenue', map.getZoom()) * 1.3), opacity: 0.95, lineCap: 'round' }
          : { stroke: true, color: '#1c4a74', weight: 1, fillColor: '#10304f', fillOpacity: 0.95 };
      }));
      basemap.styled.push(water);
    }
    if (layers.streets) {
      var streets = add(geo(layers.streets, streetStyle, function (f) {
        return notPoint(f) && (f.properties || {}).class !== 'avenue' && (f.properties || {}).class !== 'ring';
      }));
      var avenues = add(geo(layers.streets, streetStyle, function (f) {
        var c = (f.properties || {}).class;
        return notPoint(f) && (c === 'avenue' || c === 'ring');
      }));
      basemap.styled.push(streets, avenues);
    }
    if (layers.ring) {
      basemap.styled.push(add(geo(layers.ring, streetStyle)));
    }
    if (layers.tram) {
      // A dark casing under each line keeps it readable where it crosses streets.
      basemap.styled.push(add(geo(layers.tram, function () {
        return { color: OUTLINE, weight: tramWeight(map.getZoom()) + 2.5, opacity: 0.9, lineCap: 'round', lineJoin: 'round' };
      })));
      basemap.styled.push(add(geo(layers.tram, function (f) {
        var line = (f.properties || {}).line;
        return { color: TRAM_COLORS[line] || '#39c5cf', weight: tramWeight(map.getZoom()), opacity: 0.95,
          lineCap: 'round', lineJoin: 'round' };
      })));
    }
    restyleBasemap(z);
  }

  function streetStyle(f) {
    var cls = (f.properties || {}).class || 'street';
    var s = STREET_STYLE[cls] || STREET_STYLE.street;
    return { color: s.color, weight: streetWeight(cls, map.getZoom()), opacity: 1, lineCap: 'round', lineJoin: 'round' };
  }

  /* Line widths follow the zoom so streets look like streets when zoomed in. */
  function restyleBasemap() {
    basemap.styled.forEach(function (g) {
      // geoJSON.resetStyle re-runs the style function for every feature.
      g.eachLayer(function (l) { g.resetStyle(l); });
    });
  }
  map.on('zoomend', function () { restyleBasemap(); });

  // ---------------------------------------------------------------------------------------
  // 5. points layer: every fixed asset on one canvas
  // ---------------------------------------------------------------------------------------

  /* Marker radius (px) for a kind at a zoom; problems are drawn bigger. */
  function baseRadius(z) {
    return z <= 12 ? 2.6 : z <= 13 ? 3.3 : z <= 14 ? 4 : z <= 15 ? 4.8 : z <= 16 ? 5.6 : 6.5;
  }
  function lightDiameter(z) {   // OK street lights: a tiny dot, 2 to 3 px (whole pixels)
    return z < 13 ? 0 : z < 15 ? 2 : 3;
  }
  function badRadius(r) { return r * 1.35 + 0.8; }

  // Shape painters add a sub-path to the current path: drawn once per (kind, status, size) into a
  // sprite (spriteOf, below) and into the legend's icons.
  var SHAPES = {
    circle: function (ctx, x, y, r) { ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, 2 * Math.PI); },
    square: function (ctx, x, y, r) { var s = r * 0.9; ctx.rect(x - s, y - s, 2 * s, 2 * s); },
    triangle: function (ctx, x, y, r) {
      var s = r * 1.15;
      ctx.moveTo(x, y - s); ctx.lineTo(x + s, y + s * 0.8); ctx.lineTo(x - s, y + s * 0.8); ctx.closePath();
    },
    diamond: function (ctx, x, y, r) {
      var s = r * 1.25;
      ctx.moveTo(x, y - s); ctx.lineTo(x + s, y); ctx.lineTo(x, y + s); ctx.lineTo(x - s, y); ctx.closePath();
    },
    rect: function (ctx, x, y, r) { ctx.rect(x - r * 1.3, y - r * 0.75, r * 2.6, r * 1.5); },
    drop: function (ctx, x, y, r) {
      // A circle with a point on top (tangent lines from the tip to the circle).
      var rr = r * 0.85, cy = y + r * 0.25, d = r * 1.5, b = Math.acos(rr / d);
      ctx.moveTo(x, cy - d);
      ctx.arc(x, cy, rr, -Math.PI / 2 + b, 1.5 * Math.PI - b);
      ctx.closePath();
    },
    ring: function (ctx, x, y, r) {
      // Outer circle clockwise, inner counter-clockwise: the non-zero rule leaves a hole.
      var R = r * 1.2, ri = R * 0.45;
      ctx.moveTo(x + R, y); ctx.arc(x, y, R, 0, 2 * Math.PI, false);
      ctx.moveTo(x + ri, y); ctx.arc(x, y, ri, 0, 2 * Math.PI, true);
    },
    chevron: function (ctx, x, y, r, headingDeg) {
      var a = (headingDeg || 0) * Math.PI / 180, c = Math.cos(a), s = Math.sin(a);
      var pts = [[0, -1.3], [1, 1], [0, 0.4], [-1, 1]];
      for (var k = 0; k < pts.length; k++) {
        var px = pts[k][0] * r, py = pts[k][1] * r;
        var X = x + px * c - py * s, Y = y + px * s + py * c;
        if (k === 0) ctx.moveTo(X, Y); else ctx.lineTo(X, Y);
      }
      ctx.closePath();
    }
  };
  // How far each shape reaches from its centre along x or y, in radii (the cells are squares).
  var SHAPE_REACH = { circle: 1, square: 0.9, triangle: 1.15, diamond: 1.25, rect: 1.3, drop: 1.25, ring: 1.2, chevron: 1.3 };
  var KIND_SHAPE = {
    camera: 'circle', traffic_signal: 'square', street_light: 'circle', bollard: 'triangle',
    access_point: 'diamond', delivery_bay: 'rect', water_sensor: 'drop', tram_station: 'ring',
    vehicle: 'chevron'
  };
  function shapeOf(kind) { return SHAPES[KIND_SHAPE[kind] || 'circle']; }

  var PointsLayer = L.Layer.extend({
    options: { pane: 'vgPoints', padding: 0.15 },

    initialize: function () {
      this._raf = null;
      this._grid = null;        // hit grid from the last redraw (canvas-local pixels)
      this._geom = null;        // the projection and sizes of the last full redraw
      this._full = false;       // a full redraw is due
      this._dirty = [];         // else: assets whose look changed in place since the last redraw
      this.drawn = {};
    },

    onAdd: function (map) {
      var c = this._canvas = L.DomUtil.create('canvas', 'vg-points');
      if (map._zoomAnimated) L.DomUtil.addClass(c, 'leaflet-zoom-animated');
      this.getPane().appendChild(c);
      this._ctx = c.getContext('2d');
      this.redrawNow();
    },

    onRemove: function () {
      L.DomUtil.remove(this._canvas);
      if (this._raf) L.Util.cancelAnimFrame(this._raf);
      this._raf = null;
    },

    getEvents: function () {
      var ev = { moveend: this.schedule, viewreset: this.schedule, resize: this.schedule, zoom: this._onZoom };
      if (this._map._zoomAnimated) ev.zoomanim = this._onAnimZoom;
      return ev;
    },

    /* Coalesce any number of changes into one redraw of the whole canvas per animation frame. */
    schedule: function () {
      this._full = true;
      this._request();
    },

    /* Fixed assets whose look changed in place (status or heading; same kind, same position):
       only the canvas cells around them are cleared and drawn again, at the next frame. Redrawing
       the whole canvas for every batch of status changes was most of the page's time: Chromium
       rasterises every shape of a full redraw again and hands the compositor a new canvas. */
    scheduleDirty: function (list) {
      if (!this._full) {
        for (var k = 0; k < list.length; k++) this._dirty.push(list[k]);
        if (this._dirty.length > store.id.length / 3) this._full = true;   // cheaper as one pass
      }
      this._request();
    },

    _request: function () {
      if (!this._raf && this._map) this._raf = L.Util.requestAnimFrame(this._redrawDue, this);
    },

    _redrawDue: function () {
      this._raf = null;
      var g = this._geom;
      var full = this._full || !g || g.n !== store.id.length || (this._map && this._map._animatingZoom);
      var dirty = this._dirty;
      this._full = false;
      this._dirty = [];
      if (full) this.redrawNow();
      else if (dirty.length) this._redrawCells(dirty);
      vehicles.frameWith();
    },

    // While Leaflet animates a zoom we scale the existing bitmap (as its own renderers do)
    // and redraw crisply on zoomend/moveend.
    _onAnimZoom: function (e) { this._updateTransform(e.center, e.zoom); },
    _onZoom: function () { this._updateTransform(this._map.getCenter(), this._map.getZoom()); },
    _updateTransform: function (center, zoom) {
      if (!this._center) return;
      var m = this._map;
      var scale = m.getZoomScale(zoom, this._zoom);
      var viewHalf = this._size.multiplyBy(0.5);
      var currentCenterPoint = m.project(this._center, zoom);
      var topLeftOffset = viewHalf.multiplyBy(-scale).add(currentCenterPoint)
        .subtract(m._getNewPixelOrigin(center, zoom));
      L.DomUtil.setTransform(this._canvas, topLeftOffset, scale);
    },

    /* Everything again: the canvas placed and sized for the current view, every asset drawn. */
    redrawNow: function () {
      if (this._raf) L.Util.cancelAnimFrame(this._raf);
      this._raf = null;
      this._full = false;
      this._dirty = [];
      var m = this._map;
      if (!m) return;
      var t0 = performance.now();
      var size = m.getSize();
      var pad = size.multiplyBy(this.options.padding).round();
      var topLeft = m.containerPointToLayerPoint(pad.multiplyBy(-1)).round();
      var w = size.x + 2 * pad.x, h = size.y + 2 * pad.y;
      var dpr = window.devicePixelRatio || 1;
      var c = this._canvas, ctx = this._ctx;
      if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
        c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
        c.style.width = w + 'px'; c.style.height = h + 'px';
      }
      L.DomUtil.setPosition(c, topLeft);
      this._center = m.getCenter();
      this._zoom = m.getZoom();
      this._size = L.point(w, h);
      this._topLeft = topLeft;
      var z = this._zoom;
      var origin = m.getPixelOrigin();
      var r = baseRadius(z), rb = badRadius(r);
      var lightBad = z >= 16 ? 4.5 : z >= 14 ? 3.4 : 2.6;
      var coneLen = r * (z >= 16 ? 4.5 : z >= 14 ? 3.6 : 2.8);
      // How far a mark reaches from its asset's point: its shape (SHAPE_REACH, in radii), half its
      // outline, a pixel of antialiasing, and the rounding of its centre to a whole pixel. A
      // partial redraw clears the cells within this reach of a changed asset and redraws every
      // mark that reaches them: a loose reach (a sprite's whole square) cleared and redrew more
      // cells than the marks cover (a problem light's: 9.1 px against 5.65 at zoom 14).
      function reach(kind, rad) { return (SHAPE_REACH[KIND_SHAPE[kind] || 'circle'] || 1.5) * rad + 0.75 + 2; }
      var cols = Math.ceil(w / CELL_PX), rows = Math.ceil(h / CELL_PX);
      this._geom = {
        n: store.id.length, z: z, w: w, h: h, dpr: dpr, world: 256 * Math.pow(2, z),
        ox: origin.x + topLeft.x, oy: origin.y + topLeft.y,
        r: r, rb: rb, lightD: lightDiameter(z), lightBad: lightBad, coneLen: coneLen,
        ext: { camera: Math.max(coneLen * 1.2 + 1.5, reach('camera', rb)), street_light: reach('street_light', lightBad),
          traffic_signal: reach('traffic_signal', rb), bollard: reach('bollard', rb), access_point: reach('access_point', rb),
          delivery_bay: reach('delivery_bay', rb), water_sensor: reach('water_sensor', rb), tram_station: reach('tram_station', rb),
          other: 1.5 * rb + 4 },
        cols: cols, rows: rows, cells: new Uint8Array(cols * rows)
      };
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      this._sx = new Float32Array(store.id.length);
      this._sy = new Float32Array(store.id.length);
      this._paint(null);
      this._finish(t0, false);
    },

    /* Only the cells (CELL_PX squares) around `dirty` assets: cleared and drawn again, clipped, in
       the same order as a full redraw, so they look the same as after one. */
    _redrawCells: function (dirty) {
      var g = this._geom, cells = g.cells, C = CELL_PX;
      var t0 = performance.now();
      var special = {};   // the selection ring and the alarm marker depend on their assets' status
      if (state.selected) special[state.selected] = true;
      if (state.alarm && state.alarm.id) {
        special[String(state.alarm.asset_id)] = true;
        (state.alarm.cameras || []).forEach(function (cid) { special[String(cid)] = true; });
      }
      cells.fill(0);
      var any = false, marked = 0, most = cells.length * PARTIAL_MAX_SHARE;
      for (var k = 0; k < dirty.length; k++) {
        var i = dirty[k], kind = store.kind[i];
        if (kind === 'vehicle' || !isVisible(kind)) continue;
        if (special[store.id[i]]) { this.redrawNow(); return; }
        var x = store.mx[i] * g.world - g.ox, y = store.my[i] * g.world - g.oy;
        var e = g.ext[kind] || g.ext.other;
        if (x < -e || y < -e || x > g.w + e || y > g.h + e) continue;
        var x0 = Math.max(0, Math.floor((x - e) / C)), x1 = Math.min(g.cols - 1, Math.floor((x + e) / C));
        var y0 = Math.max(0, Math.floor((y - e) / C)), y1 = Math.min(g.rows - 1, Math.floor((y + e) / C));
        for (var cy = y0; cy <= y1; cy++) {
          for (var cx = x0; cx <= x1; cx++) {
            if (!cells[cy * g.cols + cx]) { cells[cy * g.cols + cx] = 1; marked++; }
          }
        }
        if (marked > most) { this.redrawNow(); return; }   // cheaper as one pass (PARTIAL_MAX_SHARE)
        any = true;
      }
      if (!any) return;   // nothing on the canvas changed
      // Runs of dirty cells per row, in device pixels (whole pixels: the clip needs no antialiasing).
      var rects = [], W = this._canvas.width, H = this._canvas.height, dpr = g.dpr;
      for (var ry = 0; ry < g.rows; ry++) {
        for (var rx = 0; rx < g.cols; rx++) {
          if (!cells[ry * g.cols + rx]) continue;
          var start = rx;
          while (rx + 1 < g.cols && cells[ry * g.cols + rx + 1]) rx++;
          var X0 = Math.floor(start * C * dpr), X1 = Math.min(W, Math.ceil((rx + 1) * C * dpr));
          var Y0 = Math.floor(ry * C * dpr), Y1 = Math.min(H, Math.ceil((ry + 1) * C * dpr));
          if (X1 > X0 && Y1 > Y0) rects.push([X0, Y0, X1 - X0, Y1 - Y0]);
        }
      }
      var ctx = this._ctx;
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.beginPath();
      rects.forEach(function (q) { ctx.rect(q[0], q[1], q[2], q[3]); });
      ctx.clip();
      rects.forEach(function (q) { ctx.clearRect(q[0], q[1], q[2], q[3]); });
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      this._paint(rects);
      ctx.restore();
      this._finish(t0, true);
    },

    /* Project, cull and bucket every asset (hit grid and counts always cover them all), then draw:
       all of them (rects null, after a clear), or those reaching into the dirty cells (rects: the
       device-pixel rectangles of those cells, already cleared and set as the clip). */
    _paint: function (rects) {
      var g = this._geom, ctx = this._ctx, sx = this._sx, sy = this._sy;
      var w = g.w, h = g.h, world = g.world, ox = g.ox, oy = g.oy, z = g.z, dpr = g.dpr;
      var cells = g.cells, C = CELL_PX, cols = g.cols, rows = g.rows;
      var n = store.id.length;
      var okBuckets = {}, badBuckets = {}, drawn = {};
      var margin = 12;
      var lightD = g.lightD;
      for (var i = 0; i < n; i++) {
        var kind = store.kind[i];
        if (kind === 'vehicle' || !isVisible(kind)) continue;
        var x = store.mx[i] * world - ox, y = store.my[i] * world - oy;
        if (x < -margin || y < -margin || x > w + margin || y > h + margin) continue;
        var st = store.status[i];
        if (st === 'ok') {
          if (kind === 'street_light' && lightD === 0) continue;
          (okBuckets[kind] || (okBuckets[kind] = [])).push(i);
        } else {
          var key = kind + '|' + st;
          (badBuckets[key] || (badBuckets[key] = [])).push(i);
        }
        sx[i] = x; sy[i] = y;
        drawn[kind] = (drawn[kind] || 0) + 1;
      }

      // In a partial redraw only the assets whose mark reaches a dirty cell are drawn (the clip
      // keeps the rest of the canvas as it was).
      function reaches(idx) {
        var e = g.ext[store.kind[idx]] || g.ext.other, px = sx[idx], py = sy[idx];
        var x0 = Math.max(0, Math.floor((px - e) / C)), x1 = Math.min(cols - 1, Math.floor((px + e) / C));
        var y0 = Math.max(0, Math.floor((py - e) / C)), y1 = Math.min(rows - 1, Math.floor((py + e) / C));
        for (var cy = y0; cy <= y1; cy++) for (var cx = x0; cx <= x1; cx++) if (cells[cy * cols + cx]) return true;
        return false;
      }
      function only(list) { return rects ? list.filter(reaches) : list; }

      var r = g.r, rb = g.rb;
      var order = [];   // drawing order = hit-test priority (last wins)

      // a) OK street lights first, written straight into pixels: 50,000 fillRect calls cost
      //    ~50 ms on a software-rendered canvas, a typed-array loop + one putImageData ~5 ms.
      //    The canvas is empty at this point, so replacing pixels needs no blending. Muted
      //    (translucent) so they read as a texture and problems stand out.
      var lights = okBuckets.street_light;
      if (lights && lights.length) {
        this._putLights(only(lights), sx, sy, lightD, dpr, rects);
        order.push(lights);
      }

      // b) camera viewing cones, under everything, translucent.
      var coneLen = g.coneLen, half = 28 * Math.PI / 180;
      var cams = [].concat(okBuckets.camera || []);
      BAD_DRAW_ORDER.forEach(function (s) { cams = cams.concat(badBuckets['camera|' + s] || []); });
      cams = only(cams);
      if (cams.length) {
        var byColor = {};
        cams.forEach(function (k) { var s = store.status[k]; (byColor[s] || (byColor[s] = [])).push(k); });
        ctx.globalAlpha = 0.28;
        Object.keys(byColor).forEach(function (s) {
          ctx.fillStyle = statusColor(s);
          ctx.beginPath();
          byColor[s].forEach(function (k) {
            var a = (store.heading[k] - 90) * Math.PI / 180;   // 0 = north, clockwise
            var L_ = s === 'ok' ? coneLen : coneLen * 1.2;
            ctx.moveTo(sx[k], sy[k]);
            ctx.arc(sx[k], sy[k], L_, a - half, a + half);
            ctx.closePath();
          });
          ctx.fill();
        });
        ctx.globalAlpha = 1;
      }

      // c) OK assets of the other kinds, one path per kind.
      ctx.lineJoin = 'round';
      KIND_ORDER.concat(Object.keys(okBuckets)).forEach(function (kind, idx, arr) {
        if (kind === 'street_light' || arr.indexOf(kind) !== idx) return;
        var list = okBuckets[kind];
        if (!list || !list.length) return;
        drawBucket(ctx, only(list), kind, statusColor('ok'), r, 1, sx, sy, dpr);
        order.push(list);
      });

      // d) problems on top, bigger, most serious last.
      // Faulty lights can number a thousand: bigger than OK ones, but modest at city zoom.
      var lightBad = g.lightBad;
      BAD_DRAW_ORDER.concat(STATUS_ORDER).forEach(function (s, si, arr) {
        if (arr.indexOf(s) !== si) return;
        Object.keys(badBuckets).forEach(function (key) {
          var parts = key.split('|');
          if (parts[1] !== s) return;
          var kind = parts[0];
          var rad = kind === 'street_light' ? lightBad : rb;
          drawBucket(ctx, only(badBuckets[key]), kind, statusColor(s), rad, 1.5, sx, sy, dpr);
          order.push(badBuckets[key]);
        });
      });
      // statuses we do not know (not in STATUS_ORDER) still get drawn
      Object.keys(badBuckets).forEach(function (key) {
        var s = key.split('|')[1];
        if (STATUS_ORDER.indexOf(s) >= 0) return;
        drawBucket(ctx, only(badBuckets[key]), key.split('|')[0], statusColor(s), rb, 1.5, sx, sy, dpr);
        order.push(badBuckets[key]);
      });

      // e) selection ring for a fixed asset (vehicles carry theirs in their icon).
      var sel = state.selected ? store.index.get(state.selected) : undefined;
      if (sel !== undefined && store.kind[sel] !== 'vehicle') {
        var x2 = store.mx[sel] * world - ox, y2 = store.my[sel] * world - oy;
        var rr = (store.status[sel] === 'ok' ? r : rb) + 6;
        ctx.beginPath(); ctx.arc(x2, y2, rr + 2, 0, 2 * Math.PI);
        ctx.strokeStyle = SELECT_HALO; ctx.lineWidth = 3; ctx.globalAlpha = 0.7; ctx.stroke();
        ctx.globalAlpha = 1;
        ctx.beginPath(); ctx.arc(x2, y2, rr, 0, 2 * Math.PI);
        ctx.strokeStyle = SELECT_RING; ctx.lineWidth = 2.5; ctx.stroke();
      }

      // f) the selected alarm: a marker in its priority's colour on its asset, and its cameras
      // ringed in the alarm-camera orange with a line to it (the map must say "alarm here", not
      // only "selected").
      var al = state.alarm;
      if (al && al.id) {
        var ai = store.index.get(String(al.asset_id));
        if (ai !== undefined) {
          var ax = store.mx[ai] * world - ox, ay = store.my[ai] * world - oy;
          (al.cameras || []).forEach(function (cid) {
            var ci = store.index.get(String(cid));
            if (ci === undefined) return;
            var cx = store.mx[ci] * world - ox, cy = store.my[ci] * world - oy;
            ctx.setLineDash([6, 4]);
            ctx.beginPath(); ctx.moveTo(cx, cy); ctx.lineTo(ax, ay);
            ctx.strokeStyle = ALARM_CAMERA; ctx.lineWidth = 2; ctx.globalAlpha = 0.8; ctx.stroke();
            ctx.setLineDash([]); ctx.globalAlpha = 1;
            ctx.beginPath(); ctx.arc(cx, cy, rb + 7, 0, 2 * Math.PI);
            ctx.strokeStyle = '#0b0e12'; ctx.lineWidth = 5; ctx.stroke();
            ctx.strokeStyle = ALARM_CAMERA; ctx.lineWidth = 3; ctx.stroke();
          });
          var s2 = 15, top = ay - rb - 8 - 2 * s2;  // a warning triangle standing over the asset
          ctx.beginPath();
          ctx.moveTo(ax, top); ctx.lineTo(ax + s2 * 1.1, top + 2 * s2); ctx.lineTo(ax - s2 * 1.1, top + 2 * s2); ctx.closePath();
          ctx.fillStyle = al.color || '#f85149'; ctx.fill();
          ctx.strokeStyle = '#0b0e12'; ctx.lineWidth = 2.5; ctx.stroke();
          ctx.fillStyle = '#0b0e12'; ctx.font = 'bold 13px sans-serif'; ctx.textAlign = 'center';
          ctx.fillText(al.label || '!', ax, top + 2 * s2 - 5);
          ctx.beginPath(); ctx.arc(ax, ay, rb + 9, 0, 2 * Math.PI);
          ctx.strokeStyle = al.color || '#f85149'; ctx.lineWidth = 3; ctx.stroke();
          ctx.textAlign = 'start';
        }
      }

      this._buildGrid(order, sx, sy, w, h);
      this.drawn = drawn;
    },

    _finish: function (t0, partial) {
      var dt = performance.now() - t0;
      var p = state.perf;
      p.lastRedrawMs = dt;
      p.redrawMsTotal += dt;
      p.redraws++;
      if (partial) p.partialRedraws++;
      if (state.resetPending) {
        state.resetPending = false;
        state.ready = true;
        if (p.firstDrawMs === null) p.firstDrawMs = performance.now() - p.resetReceivedAt;
        p.lastResetToDrawMs = performance.now() - p.resetReceivedAt;
      }
    },

    /* Square dots of d CSS px for OK street lights. A full redraw writes them into a reused
       ImageData put in one call; a partial redraw fills them as one path of device-pixel squares
       (a putImageData per dirty rectangle cost more than the whole partial redraw otherwise). */
    _putLights: function (list, sx, sy, d, dpr, rects) {
      var c = this._canvas, W = c.width, H = c.height, ctx = this._ctx;
      var rgb = hexToRgb(statusColor('ok'));
      var alpha = d < 2 ? 150 : 185;
      var n = Math.max(1, Math.round(d * dpr)), off = (n - 1) >> 1;
      var k, i, x0, y0;
      if (rects) {
        // Drawn first on cleared, clipped cells: the same pixels as the ImageData's (whole-pixel
        // squares, one fill so touching dots do not blend twice).
        ctx.save();
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.beginPath();
        for (k = 0; k < list.length; k++) {
          i = list[k];
          x0 = Math.round(sx[i] * dpr) - off; y0 = Math.round(sy[i] * dpr) - off;
          if (x0 < 0 || y0 < 0 || x0 + n > W || y0 + n > H) continue;
          ctx.rect(x0, y0, n, n);
        }
        ctx.fillStyle = 'rgba(' + rgb[0] + ',' + rgb[1] + ',' + rgb[2] + ',' + (alpha / 255) + ')';
        ctx.fill();
        ctx.restore();
        return;
      }
      var img = this._img;
      if (!img || img.width !== W || img.height !== H) {
        img = this._img = ctx.createImageData(W, H);
        this._px = new Uint32Array(img.data.buffer);
      }
      var px = this._px;
      px.fill(0);
      // Uint32 view is little-endian on every platform QtWebEngine runs on: ABGR.
      var val = ((alpha << 24) | (rgb[2] << 16) | (rgb[1] << 8) | rgb[0]) >>> 0;
      for (k = 0; k < list.length; k++) {
        i = list[k];
        x0 = Math.round(sx[i] * dpr) - off; y0 = Math.round(sy[i] * dpr) - off;
        if (x0 < 0 || y0 < 0 || x0 + n > W || y0 + n > H) continue;
        for (var yy = 0; yy < n; yy++) {
          var row = (y0 + yy) * W + x0;
          for (var xx = 0; xx < n; xx++) px[row + xx] = val;
        }
      }
      ctx.putImageData(img, 0, 0);
    },

    /* Screen-space grid (counting sort into cells) so a hover is a look at ~4 cells. */
    _buildGrid: function (order, sx, sy, w, h) {
      var cs = GRID_CELL_PX, gw = Math.ceil(w / cs) + 1, gh = Math.ceil(h / cs) + 1;
      var total = 0, k, j;
      for (k = 0; k < order.length; k++) total += order[k].length;
      var items = new Int32Array(total), rank = new Int32Array(total), cellOf = new Int32Array(total);
      var start = new Int32Array(gw * gh + 1);
      var p = 0;
      for (k = 0; k < order.length; k++) {
        var list = order[k];
        for (j = 0; j < list.length; j++, p++) {
          var i = list[j];
          var cx = Math.min(gw - 1, Math.max(0, Math.floor(sx[i] / cs)));
          var cy = Math.min(gh - 1, Math.max(0, Math.floor(sy[i] / cs)));
          var cell = cy * gw + cx;
          cellOf[p] = cell;
          start[cell + 1]++;
        }
      }
      for (k = 0; k < gw * gh; k++) start[k + 1] += start[k];
      var fill = start.slice(0, gw * gh);
      p = 0;
      for (k = 0; k < order.length; k++) {
        for (j = 0; j < order[k].length; j++, p++) {
          var slot = fill[cellOf[p]]++;
          items[slot] = order[k][j];
          rank[slot] = p;   // draw rank: later = on top
        }
      }
      this._grid = { gw: gw, gh: gh, start: start, items: items, rank: rank, sx: sx, sy: sy };
    },

    /* Nearest drawn asset within HIT_RADIUS_PX of a container point, or -1. */
    hitTest: function (containerPoint) {
      var g = this._grid;
      if (!g || !this._map || this._map._animatingZoom) return -1;
      // Canvas-local coordinates stay valid while the map is dragged (the canvas moves with it).
      var lp = this._map.containerPointToLayerPoint(containerPoint);
      var x = lp.x - this._topLeft.x, y = lp.y - this._topLeft.y, R = HIT_RADIUS_PX;
      var cs = GRID_CELL_PX;
      var x0 = Math.max(0, Math.floor((x - R) / cs)), x1 = Math.min(g.gw - 1, Math.floor((x + R) / cs));
      var y0 = Math.max(0, Math.floor((y - R) / cs)), y1 = Math.min(g.gh - 1, Math.floor((y + R) / cs));
      var best = -1, bestD = R * R + 1e-6, bestRank = -1;
      for (var cy = y0; cy <= y1; cy++) {
        for (var cx = x0; cx <= x1; cx++) {
          var cell = cy * g.gw + cx;
          for (var s = g.start[cell]; s < g.start[cell + 1]; s++) {
            var i = g.items[s], dx = g.sx[i] - x, dy = g.sy[i] - y, d = dx * dx + dy * dy;
            // Closer wins; at (nearly) equal distance the one drawn on top wins.
            if (d < bestD - 0.5 || (d <= bestD + 0.5 && g.rank[s] > bestRank && d <= R * R)) {
              best = i; bestD = d; bestRank = g.rank[s];
            }
          }
        }
      }
      return best;
    }
  });

  function hexToRgb(hex) {
    var h = String(hex).replace('#', '');
    if (h.length === 3) h = h.replace(/./g, '$&$&');
    var v = parseInt(h.slice(0, 6), 16) || 0;
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }

  // One small bitmap per (kind, colour, size): a mark is then one blit. Filling and stroking a path
  // of thousands of circles was the page's largest cost with many problems on the map (Skia strokes
  // every circle of the path again); a blit of a ready sprite costs a fraction of that. Bounded:
  // kinds x statuses x the sizes of a few zoom levels.
  var sprites = new Map();
  var SPRITES_MAX = 512;
  function spriteOf(kind, color, r, lineWidth, dpr) {
    var key = kind + '|' + color + '|' + r + '|' + lineWidth + '|' + dpr;
    var s = sprites.get(key);
    if (s) return s;
    if (sprites.size >= SPRITES_MAX) sprites.clear();
    var half = Math.ceil((1.5 * r + lineWidth + 1) * dpr);   // every shape fits in 1.5 r
    // An ImageBitmap when the engine can make one at once (a static image: blitting it takes no
    // snapshot of a canvas each time), else the canvas itself.
    var off = typeof OffscreenCanvas === 'function';
    var c = off ? new OffscreenCanvas(2 * half, 2 * half) : document.createElement('canvas');
    c.width = c.height = 2 * half;
    var x = c.getContext('2d');
    x.setTransform(dpr, 0, 0, dpr, half, half);
    x.lineJoin = 'round';
    x.beginPath();
    shapeOf(kind)(x, 0, 0, r, 0);
    x.fillStyle = color;
    x.fill();
    if (r >= 2.5) {   // an outline on a 2 px dot would hide its colour
      x.strokeStyle = OUTLINE;
      x.lineWidth = lineWidth;
      x.stroke();
    }
    s = { canvas: off && c.transferToImageBitmap ? c.transferToImageBitmap() : c, half: half };
    sprites.set(key, s);
    return s;
  }

  /* Every asset of `list` as its kind's mark, centred on its pixel (whole device pixels). */
  function drawBucket(ctx, list, kind, color, r, lineWidth, sx, sy, dpr) {
    if (!list.length) return;
    var s = spriteOf(kind, color, r, lineWidth, dpr), img = s.canvas, h = s.half;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    for (var k = 0; k < list.length; k++) {
      var i = list[k];
      ctx.drawImage(img, Math.round(sx[i] * dpr) - h, Math.round(sy[i] * dpr) - h);
    }
    ctx.restore();
  }

  var points = new PointsLayer().addTo(map);

  // ---------------------------------------------------------------------------------------
  // 6. vehicles
  // ---------------------------------------------------------------------------------------
  // Few (60-200) but moving every second: real DOM markers are fine here and give us
  // CSS styling (stale, selected, callsign labels) for free. The position is interpolated
  // in one shared requestAnimationFrame loop.

  var vehicles = (function () {
    var group = L.layerGroup([], { pane: 'vgVehicles' }).addTo(map);
    var byId = new Map();      // id -> {marker, root, svg, path, lat, lon, heading, anim, stale, fleet}
    var animating = new Set();
    var rafId = null;

    function fleetOf(i) {
      return /^police/i.test(store.label[i] || store.name[i] || '') ? 'police' : 'technical';
    }

    function iconHtml(id, label) {
      return '<div class="vg-veh" data-id="' + escapeHtml(id) + '">' +
        '<svg viewBox="-14 -14 28 28"><path d="M0,-11 L8,8 L0,3.5 L-8,8 Z"/></svg>' +
        '<div class="vg-callsign">' + escapeHtml(label) + '</div></div>';
    }

    function create(i) {
      var id = store.id[i];
      var label = store.label[i] || store.name[i];
      var marker = L.marker([store.lat[i], store.lon[i]], {
        pane: 'vgVehicles',
        keyboard: false,
        riseOnHover: true,
        icon: L.divIcon({ className: 'vg-veh-icon', iconSize: [28, 28], iconAnchor: [14, 14], html: iconHtml(id, label) })
      });
      var v = { id: id, marker: marker, root: null, svg: null, lat: store.lat[i], lon: store.lon[i],
        heading: store.heading[i], anim: null, stale: false, fleet: '', label: label, bad: '' };
      marker.on('add', function () { bindDom(v); applyClasses(v, i); });
      marker.on('click', function (e) { L.DomEvent.stopPropagation(e); interaction.clicked(v.id); });
      marker.on('contextmenu', function (e) {
        L.DomEvent.stopPropagation(e);
        L.DomEvent.preventDefault(e.originalEvent);
        interaction.context(v.id, 'vehicle', e.latlng, e.containerPoint);
      });
      marker.on('mouseover', function () { interaction.hoverVehicle(v.id); });
      marker.on('mouseout', function () { interaction.hoverOut(v.id); });
      byId.set(id, v);
      if (isVisible('vehicle')) group.addLayer(marker);
      return v;
    }

    function bindDom(v) {
      var el = v.marker.getElement();
      if (!el) return;
      v.root = el.firstChild;
      v.svg = v.root.firstChild;
      // A re-added marker gets a fresh element built from the icon html: re-apply everything.
      v.fleet = ''; v.bad = ''; v.label = null;
      v.svg.style.transform = 'rotate(' + v.heading + 'deg)';
      v.drawnHeading = v.heading;
      v.pz = null;   // placed again at the next frame
    }

    function applyClasses(v, i) {
      if (!v.root) return;
      var fleet = fleetOf(i);
      if (fleet !== v.fleet) {
        L.DomUtil.removeClass(v.root, v.fleet || 'x');
        L.DomUtil.addClass(v.root, fleet);
        v.fleet = fleet;
      }
      var st = store.status[i];
      var bad = st !== 'ok' ? st : '';
      if (bad !== v.bad) {
        v.bad = bad;
        L.DomUtil[bad ? 'addClass' : 'removeClass'](v.root, 'vg-bad');
        v.root.style.setProperty('--vg-status', bad ? statusColor(bad) : '');
      }
      L.DomUtil[state.selected === v.id ? 'addClass' : 'removeClass'](v.root, 'selected');
      L.DomUtil[v.stale ? 'addClass' : 'removeClass'](v.root, 'stale');
      var label = store.label[i] || store.name[i];
      if (label !== v.label) { v.label = label; v.root.lastChild.textContent = label; }
    }

    function upsert(i) {
      var id = store.id[i];
      var v = byId.get(id);
      if (!v) { v = create(i); checkStale(v, Date.now() / 1000); applyClasses(v, i); return; }
      var lat = store.lat[i], lon = store.lon[i], hd = store.heading[i];
      if (lat !== v.toLat || lon !== v.toLon || hd !== v.toHeading) {
        // Animate from wherever the marker is drawn now, so a late update never jumps.
        v.anim = { t0: performance.now(), lat0: v.lat, lon0: v.lon, h0: v.heading,
          lat1: lat, lon1: lon, h1: hd };
        v.toLat = lat; v.toLon = lon; v.toHeading = hd;
        animating.add(v);
        scheduleFrame(frameGapMs());
      }
      checkStale(v, Date.now() / 1000);
      applyClasses(v, i);
    }

    // Vehicles cover about 1 px/s at city zoom and 10 px/s at street zoom, and every frame costs a
    // software composite of the whole page, in the renderer and in the console (60 fps cost half a
    // core for 60 vehicles). So a frame comes only when some vehicle will have moved a whole pixel
    // (or turned DEG_STEP degrees) on screen, never sooner than frameGapMs() (which follows the
    // zoom), and a marker is touched only when it moved on screen. The points layer's redraws
    // take the vehicles along (frameWith), so a batch of changes makes one frame, not two.
    var DEG_STEP = 4;
    var timer = null, timerAt = 0;

    function frameGapMs() {
      var z = map.getZoom();
      return z >= 17 ? 40 : z >= 15 ? 100 : 200;
    }

    function scheduleFrame(delay) {
      var at = performance.now() + delay;
      if (rafId) return;                          // a frame is coming anyway
      if (timer) {
        if (timerAt <= at) return;
        clearTimeout(timer);
      }
      timerAt = at;
      timer = setTimeout(function () { timer = null; rafId = L.Util.requestAnimFrame(frame); }, delay);
    }

    /* Called from another layer's animation frame: advance the vehicles in that same frame. */
    function frameWith() {
      if (!animating.size) return;
      if (timer) { clearTimeout(timer); timer = null; }
      if (rafId) { L.Util.cancelAnimFrame(rafId); rafId = null; }
      frame();
    }

    function frame() {
      rafId = null;
      var t0 = performance.now();
      var now = t0;
      var z = map.getZoom(), world = 256 * Math.pow(2, z);
      var next = MOVE_ANIM_MS;
      animating.forEach(function (v) {
        var a = v.anim;
        if (!a) { animating.delete(v); return; }
        var t = Math.min(1, (now - a.t0) / MOVE_ANIM_MS);
        // Linear in time: vehicles reporting every second then move at a steady speed.
        v.lat = a.lat0 + (a.lat1 - a.lat0) * t;
        v.lon = a.lon0 + (a.lon1 - a.lon0) * t;
        var dh = ((a.h1 - a.h0 + 540) % 360) - 180;   // shortest way round
        v.heading = a.h0 + dh * Math.min(1, t * 2);
        var done = t >= 1;
        // Skip markers that are hidden or not in the DOM: only their state advances.
        if (v.marker._map) {
          var px = Math.round(mercX(v.lon) * world), py = Math.round(mercY(v.lat) * world);
          if (done || px !== v.px || py !== v.py || v.pz !== z) {
            v.marker.setLatLng([v.lat, v.lon]);
            v.px = px; v.py = py; v.pz = z;
          }
          if (v.svg && (done || Math.abs(v.heading - v.drawnHeading) >= DEG_STEP)) {
            v.svg.style.transform = 'rotate(' + v.heading + 'deg)';
            v.drawnHeading = v.heading;
          }
        }
        if (done) { v.anim = null; v.heading = a.h1; animating.delete(v); return; }
        // When this vehicle next moves a pixel or turns DEG_STEP degrees, or arrives.
        var dist = Math.sqrt(Math.pow((mercX(a.lon1) - mercX(a.lon0)) * world, 2) +
          Math.pow((mercY(a.lat1) - mercY(a.lat0)) * world, 2));
        var due = (1 - t) * MOVE_ANIM_MS;
        if (dist > 0) due = Math.min(due, MOVE_ANIM_MS / dist);
        if (dh !== 0 && t < 0.5) due = Math.min(due, DEG_STEP * MOVE_ANIM_MS / 2 / Math.abs(dh));
        next = Math.min(next, due);
      });
      if (animating.size) scheduleFrame(Math.max(frameGapMs(), next));
      state.perf.animMsTotal += performance.now() - t0;
      state.perf.animFrames++;
    }

    // Leaflet places markers again on a zoom from their last position: give them the current one.
    map.on('zoomend', function () {
      byId.forEach(function (v) {
        if (!v.marker._map) return;
        v.marker.setLatLng([v.lat, v.lon]);
        v.pz = null;
      });
    });

    function checkStale(v, nowS) {
      var i = store.index.get(v.id);
      var upd = store.updated[i];
      var stale = upd > 0 && nowS - upd > STALE_AFTER_S;
      if (stale !== v.stale) {
        v.stale = stale;
        if (v.root) L.DomUtil[stale ? 'addClass' : 'removeClass'](v.root, 'stale');
      }
    }

    setInterval(function () {
      var nowS = Date.now() / 1000;
      byId.forEach(function (v) { checkStale(v, nowS); });
      interaction.refreshTip();
    }, STALE_CHECK_MS);

    function remove(id) {
      var v = byId.get(id);
      if (!v) return;
      group.removeLayer(v.marker);
      animating.delete(v);
      byId.delete(id);
    }

    function clear() {
      group.clearLayers();
      byId.clear();
      animating.clear();
    }

    function setVisible(on) {
      byId.forEach(function (v) {
        if (on && !group.hasLayer(v.marker)) { v.marker.setLatLng([v.lat, v.lon]); v.pz = null; group.addLayer(v.marker); }
        else if (!on && group.hasLayer(v.marker)) group.removeLayer(v.marker);
      });
    }

    function refreshSelection() {
      byId.forEach(function (v) {
        if (v.root) L.DomUtil[state.selected === v.id ? 'addClass' : 'removeClass'](v.root, 'selected');
      });
    }

    return {
      upsert: upsert, remove: remove, clear: clear, setVisible: setVisible, refreshSelection: refreshSelection,
      frameWith: frameWith,
      get: function (id) { return byId.get(id); },
      count: function () { return byId.size; },
      drawnCount: function () { var n = 0; byId.forEach(function (v) { if (v.marker._map) n++; }); return n; }
    };
  })();

  // ---------------------------------------------------------------------------------------
  // 7. legend / layer toggles and coordinates
  // ---------------------------------------------------------------------------------------

  var Legend = L.Control.extend({
    options: { position: 'topright' },
    onAdd: function () {
      var el = this._el = L.DomUtil.create('div', 'vg-panel vg-legend');
      L.DomEvent.disableClickPropagation(el);
      L.DomEvent.disableScrollPropagation(el);
      L.DomEvent.on(el, 'contextmenu', L.DomEvent.stop);
      this._rows = {};
      this.rebuild();
      return el;
    },
    /* Rebuild rows (kinds or labels changed). */
    rebuild: function () {
      var el = this._el, self = this;
      if (!el) return;
      el.innerHTML = '';
      this._rows = {};
      // The title folds the legend away: on a narrow console panel it would hide the city.
      var title = L.DomUtil.create('h4', 'vg-legend-title', el);
      title.textContent = 'Layers';
      title.title = 'Show or hide the legend';
      title.addEventListener('click', function () { L.DomUtil[L.DomUtil.hasClass(el, 'vg-collapsed') ? 'removeClass' : 'addClass'](el, 'vg-collapsed'); });
      if (this._autoFold === undefined) {
        var size = map.getSize();  // folded unless the map has the room (a wall, a whole screen)
        this._autoFold = size.x < 1100 || size.y < 700;
        if (this._autoFold) L.DomUtil.addClass(el, 'vg-collapsed');
      }
      var kinds = KIND_ORDER.slice();
      Object.keys(store.counts).concat(Object.keys(state.style.kind_labels)).forEach(function (k) {
        if (kinds.indexOf(k) < 0) kinds.push(k);
      });
      kinds.forEach(function (kind) {
        var row = L.DomUtil.create('label', 'vg-row', el);
        var cb = L.DomUtil.create('input', '', row);
        cb.type = 'checkbox';
        cb.checked = isVisible(kind);
        cb.addEventListener('change', function () { setKindVisible(kind, cb.checked, true); });
        row.appendChild(legendIcon(kind));
        L.DomUtil.create('span', 'vg-name', row).textContent = kindLabel(kind);
        var count = L.DomUtil.create('span', 'vg-count', row);
        self._rows[kind] = { row: row, cb: cb, count: count };
      });
      L.DomUtil.create('h4', 'vg-status-title', el).textContent = 'Status';
      STATUS_ORDER.concat(Object.keys(state.style.status_colors)).forEach(function (s, i, arr) {
        if (arr.indexOf(s) !== i) return;
        var line = L.DomUtil.create('div', 'vg-status', el);
        var sw = L.DomUtil.create('span', 'vg-swatch', line);
        sw.style.background = statusColor(s);
        L.DomUtil.create('span', '', line).textContent = statusLabel(s);
      });
      this.update();
    },
    /* Refresh counts and checkbox states. */
    update: function () {
      var rows = this._rows || {};
      Object.keys(rows).forEach(function (kind) {
        var r = rows[kind];
        var n = store.counts[kind] || 0;
        r.count.textContent = n.toLocaleString('fr-FR');
        r.cb.checked = isVisible(kind);
        L.DomUtil[isVisible(kind) ? 'removeClass' : 'addClass'](r.row, 'vg-off');
      });
    }
  });

  function legendIcon(kind) {
    var c = document.createElement('canvas');
    var dpr = window.devicePixelRatio || 1;
    c.width = 20 * dpr; c.height = 18 * dpr;
    c.style.width = '20px'; c.style.height = '18px';
    var ctx = c.getContext('2d');
    ctx.scale(dpr, dpr);
    // Neutral fill: in the legend the shape says the kind, colour is explained under "Status".
    if (kind === 'camera') {
      ctx.globalAlpha = 0.35; ctx.fillStyle = '#c9d1d9'; ctx.beginPath();
      ctx.moveTo(10, 9); ctx.arc(10, 9, 9, -Math.PI / 2 - 0.5, -Math.PI / 2 + 0.5); ctx.closePath(); ctx.fill();
      ctx.globalAlpha = 1;
    }
    ctx.beginPath();
    var r = kind === 'street_light' ? 2.2 : 4.5;
    shapeOf(kind)(ctx, 10, kind === 'camera' ? 11 : 9, r, 0);
    ctx.fillStyle = kind === 'vehicle' ? FLEET_COLORS.police : '#c9d1d9';
    ctx.fill();
    ctx.strokeStyle = OUTLINE; ctx.lineWidth = 1; ctx.stroke();
    return c;
  }

  var legend = new Legend().addTo(map);
  var legendDirty = false;
  function updateLegendSoon() {
    if (legendDirty) return;
    legendDirty = true;
    setTimeout(function () { legendDirty = false; legend.update(); }, 250);
  }

  var Coords = L.Control.extend({
    options: { position: 'bottomleft' },
    onAdd: function (m) {
      var el = L.DomUtil.create('div', 'vg-panel vg-coords');
      el.textContent = '\u2014';
      m.on('mousemove', function (e) {
        el.textContent = e.latlng.lat.toFixed(5) + ', ' + e.latlng.lng.toFixed(5);
      });
      return el;
    }
  });
  new Coords().addTo(map);

  function setKindVisible(kind, on, report) {
    state.visible[kind] = !!on;
    if (kind === 'vehicle') vehicles.setVisible(!!on);
    else points.schedule();
    legend.update();
    if (report) reportViewSoon();
  }

  // ---------------------------------------------------------------------------------------
  // 8. interaction
  // ---------------------------------------------------------------------------------------

  var interaction = (function () {
    var tip = L.DomUtil.create('div', 'vg-panel vg-tip', map.getContainer());
    var tipId = '';
    var tipPoint = null;

    function tipHtml(id) {
      var i = store.index.get(id);
      if (i === undefined) return '';
      var kind = store.kind[i], st = store.status[i];
      var title = kind === 'vehicle' ? (store.label[i] || store.name[i]) : store.name[i];
      var html = '<b>' + escapeHtml(title) + '</b><br><span class="vg-tip-sub">' + escapeHtml(kindLabel(kind)) +
        '</span> &middot; <span style="color:' + statusColor(st) + '">' + escapeHtml(statusLabel(st)) + '</span>';
      if (kind === 'vehicle') {
        var age = Math.round(Date.now() / 1000 - store.updated[i]);
        if (store.updated[i] > 0 && age > STALE_AFTER_S) {
          html += '<br><span class="vg-tip-stale">position ' + age + ' s old</span>';
        }
      }
      return html;
    }

    function showTip(id, cp) {
      var html = tipHtml(id);
      if (!html) { hideTip(); return; }
      tipId = id; tipPoint = cp;
      tip.innerHTML = html;
      tip.style.display = 'block';
      var size = map.getSize();
      var x = cp.x + 14, y = cp.y + 14;
      var tw = tip.offsetWidth, th = tip.offsetHeight;
      if (x + tw > size.x - 4) x = cp.x - tw - 14;
      if (y + th > size.y - 4) y = cp.y - th - 14;
      tip.style.left = x + 'px'; tip.style.top = y + 'px';
    }
    function hideTip() { tipId = ''; tip.style.display = 'none'; }

    // The asset under the cursor is told to Python (on change only): a press-and-drag on a
    // camera then becomes a Qt drag that can drop the camera on a mosaic tile.
    var hoveredId = '';
    function setHovered(id) {
      if (id === hoveredId) return;
      hoveredId = id;
      callBridge('hovered', id);
    }
    // Pressing on a camera must not pan the map: the gesture is a drag to the mosaic.
    map.on('mousedown', function (e) {
      var i = points.hitTest(e.containerPoint);
      if (i >= 0 && store.kind[i] === 'camera' && map.dragging.enabled()) {
        map.dragging.disable();
        document.addEventListener('mouseup', endAssetDrag, { once: true });
      }
    });
    function endAssetDrag() { if (!map.dragging.enabled()) map.dragging.enable(); }

    map.on('mousemove', function (e) {
      if (e.originalEvent && e.originalEvent.buttons) return;   // dragging
      var i = points.hitTest(e.containerPoint);
      setHovered(i >= 0 ? store.id[i] : '');
      if (i >= 0) {
        showTip(store.id[i], e.containerPoint);
        map.getContainer().style.cursor = 'pointer';
      } else {
        if (tipId && !vehicles.get(tipId)) hideTip();
        map.getContainer().style.cursor = '';
      }
    });
    map.on('mouseout movestart zoomstart', hideTip);
    map.on('mouseout', function () { setHovered(''); });

    map.on('click', function (e) {
      var i = points.hitTest(e.containerPoint);
      if (i >= 0) clicked(store.id[i]);
    });

    map.on('contextmenu', function (e) {
      if (e.originalEvent) L.DomEvent.preventDefault(e.originalEvent);
      var i = points.hitTest(e.containerPoint);
      context(i >= 0 ? store.id[i] : '', i >= 0 ? store.kind[i] : '', e.latlng, e.containerPoint);
    });

    function clicked(id) { callBridge('assetClicked', id); }

    function context(id, kind, latlng, cp) {
      hideTip();
      // lat/lon are where the user clicked (useful for "create incident here"); Python can
      // look the asset's own position up by id.
      callBridge('contextRequested', JSON.stringify({
        id: id || '', kind: kind || '', lat: latlng.lat, lon: latlng.lng,
        x: Math.round(cp.x), y: Math.round(cp.y)
      }));
    }

    function hoverVehicle(id) {
      var v = vehicles.get(id);
      if (!v) return;
      showTip(id, map.latLngToContainerPoint([v.lat, v.lon]));
    }
    function hoverOut(id) { if (tipId === id) hideTip(); }
    function refreshTip() {
      if (!tipId) return;
      var v = vehicles.get(tipId);
      if (v) showTip(tipId, map.latLngToContainerPoint([v.lat, v.lon]));
    }

    return { clicked: clicked, context: context, hoverVehicle: hoverVehicle, hoverOut: hoverOut,
      refreshTip: refreshTip, hideTip: hideTip, endAssetDrag: endAssetDrag };
  })();

  function positionOf(id) {
    var v = vehicles.get(id);
    if (v) return L.latLng(v.lat, v.lon);
    var i = store.index.get(id);
    return i === undefined ? null : L.latLng(store.lat[i], store.lon[i]);
  }

  var pendingFly = null;   // a select that arrived before its asset
  function selectAsset(msg) {
    var id = msg.id ? String(msg.id) : '';
    state.selected = id;
    vehicles.refreshSelection();
    points.schedule();
    pendingFly = null;
    if (id && msg.fly) {
      var ll = positionOf(id);
      if (ll) flyTo(ll); else pendingFly = id;
    }
  }
  function flyTo(ll) {
    autoFit = null;  // the operator asked for this place: keep it
    var z = Math.max(16, map.getZoom());
    var inView = map.getBounds().pad(-0.15).contains(ll);
    if (map.getZoom() >= 16 && inView) return;
    if (map.getZoom() >= 16) map.panTo(ll, { animate: true, duration: 0.5 });
    else map.flyTo(ll, z, { duration: 0.9 });
  }

  // viewChanged: debounced so a fling or a flyTo reports once.
  var viewTimer = null;
  function reportViewSoon() {
    clearTimeout(viewTimer);
    viewTimer = setTimeout(function () {
      var c = map.getCenter();
      var layers = {};
      KIND_ORDER.concat(Object.keys(store.counts)).forEach(function (k) { layers[k] = isVisible(k); });
      callBridge('viewChanged', JSON.stringify({ lat: c.lat, lon: c.lng, zoom: map.getZoom(), layers: layers }));
    }, VIEW_DEBOUNCE_MS);
  }
  map.on('moveend zoomend', reportViewSoon);

  // ---------------------------------------------------------------------------------------
  // 9. bridge and test hooks
  // ---------------------------------------------------------------------------------------

  function callBridge(name, arg) {
    var b = state.bridge;
    if (!b || typeof b[name] !== 'function') return;
    try { if (arg === undefined) b[name](); else b[name](arg); } catch (err) { console.error('bridge.' + name, err); }
  }

  var handlers = {
    basemapChanged: setBasemap,

    assetsReset: function (msg) {
      if (msg.style) {
        state.style.status_colors = Object.assign({}, DEFAULT_STATUS_COLORS, msg.style.status_colors || {});
        state.style.status_labels = msg.style.status_labels || {};
        state.style.kind_labels = msg.style.kind_labels || {};
      }
      setColumns(msg.columns);
      clearStore();
      vehicles.clear();
      ingestRows(msg.rows || []);
      state.resetPending = true;
      legend.rebuild();
      points.schedule();
      if (pendingFly) { var ll = positionOf(pendingFly); pendingFly = null; if (ll) flyTo(ll); }
    },

    assetsChanged: function (msg) {
      var res = ingestRows(msg.rows || []);
      if (msg.status) ingestStatuses(msg.status, res);
      if (res.fixedFull) points.schedule();
      else if (res.dirty.length) points.scheduleDirty(res.dirty);
      if (res.countsChanged) {
        // A new kind needs a new legend row; otherwise only the numbers change.
        var known = legend._rows || {};
        var newKind = Object.keys(store.counts).some(function (k) { return !known[k]; });
        if (newKind) legend.rebuild(); else updateLegendSoon();
      }
      if (pendingFly) { var ll = positionOf(pendingFly); if (ll) { pendingFly = null; flyTo(ll); } }
    },

    selectAsset: selectAsset,

    alarmFocus: function (msg) {
      state.alarm = msg && msg.id ? msg : null;
      points.schedule();
    },

    setView: function (msg) {
      autoFit = null;
      if (msg.layers) {
        Object.keys(msg.layers).forEach(function (k) { setKindVisible(k, !!msg.layers[k], false); });
      }
      if (msg.lat != null && msg.lon != null) {
        map.setView([+msg.lat, +msg.lon], msg.zoom != null ? +msg.zoom : map.getZoom(), { animate: false });
      } else if (msg.zoom != null) {
        map.setZoom(+msg.zoom, { animate: false });
      }
    },

    fitBounds: function (msg) {
      autoFit = [[+msg.south, +msg.west], [+msg.north, +msg.east]];
      frame(autoFit);
    }
  };

  // What fitBounds framed stays framed when the panel is resized (a docked panel is often sized
  // after the page is ready), until the operator moves or zooms the map.
  var autoFit = null, framing = false;
  function frame(bounds) {
    framing = true;
    try { map.fitBounds(bounds, { animate: false }); } finally { framing = false; }
  }
  map.on('resize', function () { if (autoFit) frame(autoFit); });
  map.on('dragstart zoomstart', function () { if (!framing) autoFit = null; });

  function dispatch(name, payload) {
    var t0 = performance.now();
    if (name === 'assetsReset') state.perf.resetReceivedAt = t0;   // first-draw timing includes parsing
    try {
      var msg = typeof payload === 'string' ? JSON.parse(payload) : (payload || {});
      handlers[name](msg);
      var p = state.perf, key = name + 'Ms';
      p[key] = (p[key] || 0) + (performance.now() - t0);
      p[name + 'Count'] = (p[name + 'Count'] || 0) + 1;
    } catch (err) {
      console.error('vigie map: ' + name + ' failed:', err && err.stack ? err.stack : err);
    }
  }

  function initBridge() {
    if (typeof QWebChannel === 'undefined' || typeof qt === 'undefined' || !qt.webChannelTransport) {
      // Opened outside Qt (e.g. in a browser for debugging): the map still works, unfed.
      console.warn('vigie map: no Qt WebChannel; running standalone');
      return;
    }
    new QWebChannel(qt.webChannelTransport, function (ch) {
      var b = ch.objects.bridge;
      if (!b) { console.error('vigie map: no "bridge" object on the channel'); return; }
      state.bridge = b;
      Object.keys(handlers).forEach(function (name) {
        if (b[name] && typeof b[name].connect === 'function') {
          b[name].connect(function (payload) { dispatch(name, payload); });
        }
      });
      callBridge('ready');
    });
  }

  window.vigieMap = {
    endDrag: function () { interaction.endAssetDrag(); },
    stats: function () {
      var counts = Object.assign({}, store.counts);
      var drawn = Object.assign({}, points.drawn);
      if (store.counts.vehicle) drawn.vehicle = vehicles.drawnCount();
      return { counts: counts, drawn: drawn, basemap: Object.assign({}, state.basemapCounts), selected: state.selected };
    },
    pixelOf: function (id) {
      var ll = positionOf(String(id));
      if (!ll) return null;
      var p = map.latLngToContainerPoint(ll);
      return { x: p.x, y: p.y };
    },
    statusOf: function (id) {
      var i = store.index.get(String(id));
      return i === undefined ? null : store.status[i];
    },
    isReady: function () { return state.ready; },
    alarm: function () {
      var al = state.alarm;
      if (!al) return null;
      var cams = (al.cameras || []).filter(function (c) { return store.index.get(String(c)) !== undefined; });
      return { id: al.id, asset_id: al.asset_id, label: al.label, cameras: cams };
    },
    // Not part of the contract: timings for benchmarks and a way to feed data without Qt.
    perf: function () { return Object.assign({}, state.perf); },
    redrawNow: function () { points.redrawNow(); return state.perf.lastRedrawMs; },
    // Tests: how far the canvas as it stands (after partial redraws) is from a full redraw now.
    compareWithFullRedraw: function (tolerance) {
      var c = points._canvas, ctx = points._ctx;
      var before = ctx.getImageData(0, 0, c.width, c.height).data;
      points.redrawNow();
      var after = ctx.getImageData(0, 0, c.width, c.height).data;
      var differing = 0, max = 0, where = [];   // where: the first 200 [x, y, before, after] (RGBA)
      for (var k = 0; k < after.length; k += 4) {
        // Premultiplied: what the pixel adds over the map (a faint edge's hue is noise).
        var a0 = before[k + 3] / 255, a1 = after[k + 3] / 255;
        var d = Math.max(Math.abs(after[k] * a1 - before[k] * a0), Math.abs(after[k + 1] * a1 - before[k + 1] * a0),
          Math.abs(after[k + 2] * a1 - before[k + 2] * a0), Math.abs(after[k + 3] - before[k + 3]));
        if (d > max) max = d;
        if (d > (tolerance || 0) && differing++ < 200) {
          where.push([(k / 4) % c.width, Math.floor(k / 4 / c.width), Array.from(before.slice(k, k + 4)),
            Array.from(after.slice(k, k + 4))]);
        }
      }
      return { differing: differing, max: max, pixels: after.length / 4, where: where };
    },
    _dispatch: dispatch,
    _map: map
  };

  // Garbage collection. In QtWebEngine's renderer, V8 never ran a major collection on this page
  // while it sat idle (offscreen, hidden or just not interacted with): the garbage of the asset
  // batches (JSON strings, parsed rows, redraw buckets) piled up and the renderer grew ~28 MB/min
  // under `vigie demo`, although one forced major GC brought the JS heap from 67 MB to 8 MB and the
  // renderer from 340 MB to 166 MB (it was garbage, not live data; bench/soak.py, docs/soak.md).
  // When Chromium runs with --js-flags=--expose-gc (the console adds it), the page collects every
  // GC_EVERY_MS: a full collection takes ~25 ms, in the renderer process, never on the GUI thread.
  // Without the flag, gc is undefined and nothing changes.
  var GC_EVERY_MS = 30000;
  setInterval(function () {
    if (typeof gc !== 'function') return;
    var t0 = performance.now();
    gc();
    state.perf.gcMs = (state.perf.gcMs || 0) + (performance.now() - t0);
    state.perf.gcCount = (state.perf.gcCount || 0) + 1;
  }, GC_EVERY_MS);

  // ---------------------------------------------------------------------------------------
  // 10. dispatch: incidents by type and priority, unit routes with an ETA countdown
  // ---------------------------------------------------------------------------------------
  // Fed by `dispatchChanged` ({incidents, routes}, the whole set each time: a few hundred at
  // most) and `focusIncident` ({id, lat, lon, fly}); a click on an incident calls
  // bridge.incidentClicked(id). See widgets/map/dispatch_layer.py.

  var dispatchLayer = (function () {
    map.createPane('vgRoutes').style.zIndex = 440;
    map.createPane('vgIncidents').style.zIndex = 610;
    var TYPE_GLYPHS = {
      door_forced: 'D', road_accident: 'A', assistance_person: '+', lighting_failure: 'L',
      water_leak: 'W', signal_failure: 'S', public_order: 'O', bus_lane_obstruction: 'B',
      road_obstruction: 'R', equipment_fault: 'E'
    };
    var incidentGroup = L.layerGroup([], { pane: 'vgIncidents' }).addTo(map);
    var routeGroup = L.layerGroup([], { pane: 'vgRoutes' }).addTo(map);
    var etaLabels = [];   // {el, etaAt, callsign}
    var last = { incidents: [], routes: [] };

    function icon(inc) {
      var glyph = TYPE_GLYPHS[inc.type] || '!';
      var size = inc.selected ? 34 : 26;
      var html = '<div class="vg-inc' + (inc.selected ? ' vg-inc-sel' : '') + '" style="width:' + size +
        'px;height:' + size + 'px;background:' + escapeHtml(inc.color) + ';border-color:' +
        escapeHtml(inc.status_color) + '">' + escapeHtml(glyph) + '</div>' +
        '<div class="vg-inc-label' + (inc.selected ? ' vg-inc-label-sel' : '') + '">' +
        escapeHtml(inc.label) + '</div>';
      return L.divIcon({ className: 'vg-inc-icon', html: html, iconSize: [size, size], iconAnchor: [size / 2, size / 2] });
    }

    function etaText(etaAt) {
      var s = Math.max(0, Math.round(etaAt - Date.now() / 1000));
      return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
    }

    function tickEta() {
      etaLabels.forEach(function (l) {
        l.el.textContent = l.callsign + ' · ETA ' + etaText(l.etaAt);
      });
    }
    setInterval(tickEta, 1000);

    function draw(msg) {
      last = { incidents: msg.incidents || [], routes: msg.routes || [] };
      incidentGroup.clearLayers();
      routeGroup.clearLayers();
      etaLabels = [];
      last.routes.forEach(function (r) {
        if (!r.points || r.points.length < 2) return;
        var line = L.polyline(r.points, {
          pane: 'vgRoutes', color: r.color, weight: r.selected ? 6 : 3, opacity: r.selected ? 0.95 : 0.6,
          dashArray: r.proposed ? '8 8' : null, interactive: false
        });
        routeGroup.addLayer(line);
        var el = document.createElement('div');
        el.className = 'vg-eta' + (r.selected ? ' vg-eta-sel' : '');
        etaLabels.push({ el: el, etaAt: +r.eta_at, callsign: r.callsign });
        var mk = L.marker(r.points[0], {
          pane: 'vgRoutes', interactive: false, keyboard: false,
          icon: L.divIcon({ className: 'vg-eta-icon', html: '', iconSize: null, iconAnchor: [-16, 40] })
        });
        mk.on('add', function () { var host = mk.getElement(); if (host) host.appendChild(el); });
        routeGroup.addLayer(mk);
      });
      last.incidents.forEach(function (inc) {
        var m = L.marker([+inc.lat, +inc.lon], {
          pane: 'vgIncidents', icon: icon(inc), keyboard: false, zIndexOffset: inc.selected ? 1000 : -inc.priority
        });
        m.on('click', function () { callBridge('incidentClicked', String(inc.id)); });
        incidentGroup.addLayer(m);
      });
      tickEta();
    }

    var style = document.createElement('style');
    style.textContent =
      '.vg-inc-icon{background:none;border:none}' +
      '.vg-inc{box-sizing:border-box;border:3px solid;border-radius:6px;color:#0b0e12;font:bold 15px sans-serif;' +
      'display:flex;align-items:center;justify-content:center;box-shadow:0 0 0 2px #0b0e12}' +
      '.vg-inc-sel{box-shadow:0 0 0 3px #ffffff,0 0 12px 4px rgba(88,166,255,.8);font-size:19px}' +
      '.vg-inc-label{position:absolute;left:50%;top:100%;transform:translateX(-50%);margin-top:3px;white-space:nowrap;' +
      'font:bold 11px sans-serif;color:#e6edf3;background:rgba(11,14,18,.85);padding:1px 5px;border-radius:3px;display:none}' +
      '.vg-zoom-ge14 .vg-inc-label,.vg-inc-label-sel{display:block}' +
      '.vg-inc-label-sel{font-size:14px}' +
      '.vg-eta-icon{background:none;border:none}' +
      '.vg-eta{white-space:nowrap;font:bold 12px sans-serif;color:#0b0e12;background:#f0883e;padding:2px 6px;border-radius:4px;' +
      'box-shadow:0 0 0 2px #0b0e12}' +
      '.vg-eta-sel{font-size:15px}';
    document.head.appendChild(style);

    handlers.dispatchChanged = draw;
    handlers.focusIncident = function (msg) {
      // The incident with the routes driving to it, framed; without a route, fly there.
      var ll = L.latLng(+msg.lat, +msg.lon);
      var bounds = L.latLngBounds([ll, ll]);
      last.routes.forEach(function (r) {
        if (r.incident_id === msg.id && !r.proposed) r.points.forEach(function (p) { bounds.extend(p); });
      });
      if (bounds.getNorthEast().equals(bounds.getSouthWest())) { flyTo(ll); return; }
      autoFit = null;
      map.flyToBounds(bounds.pad(0.25), { maxZoom: 17, duration: 0.9 });
    };
    return {
      stats: function () {
        return {
          incidents: last.incidents.length,
          routes: last.routes.length,
          selected: (last.incidents.filter(function (i) { return i.selected; })[0] || {}).id || '',
          eta: etaLabels.map(function (l) { return l.el.textContent; })
        };
      },
      pixelOf: function (id) {
        var inc = last.incidents.filter(function (i) { return i.id === id; })[0];
        if (!inc) return null;
        var p = map.latLngToContainerPoint([+inc.lat, +inc.lon]);
        return { x: p.x, y: p.y };
      }
    };
  })();
  window.vigieMap.dispatch = dispatchLayer;

  // ---------------------------------------------------------------------------------------
  // 11. highlight: a set of assets ringed (the city modes preview's devices)
  // ---------------------------------------------------------------------------------------
  // Fed by `highlightAssets` ({ids, color, fit}: the whole set each time; ids [] clears). Each
  // asset the page knows gets a ring in `color` on its own canvas; `fit` frames them once.
  // Drawn again on each assetsReset (a new snapshot may bring the ids it did not know).

  var highlightLayer = (function () {
    map.createPane('vgHighlight').style.zIndex = 455;
    var renderer = L.canvas({ pane: 'vgHighlight', padding: 0.3 });
    var group = L.layerGroup([], { pane: 'vgHighlight' }).addTo(map);
    var last = { ids: [], color: '#f0883e', fit: false };
    var drawn = 0;

    function draw(fit) {
      group.clearLayers();
      drawn = 0;
      var bounds = null;
      last.ids.forEach(function (id) {
        var ll = positionOf(String(id));
        if (!ll) return;
        group.addLayer(L.circleMarker(ll, {
          renderer: renderer, radius: 9, weight: 3, color: last.color, opacity: 0.95,
          fill: true, fillOpacity: 0.15, fillColor: last.color, interactive: false
        }));
        drawn++;
        bounds = bounds ? bounds.extend(ll) : L.latLngBounds([ll, ll]);
      });
      if (fit && bounds) {
        autoFit = null;
        if (bounds.getNorthEast().equals(bounds.getSouthWest())) flyTo(bounds.getCenter());
        else map.flyToBounds(bounds.pad(0.15), { maxZoom: 17, duration: 0.8 });
      }
    }

    handlers.highlightAssets = function (msg) {
      last = { ids: msg.ids || [], color: msg.color || '#f0883e', fit: !!msg.fit };
      draw(last.fit);
    };
    var reset = handlers.assetsReset;
    handlers.assetsReset = function (msg) { reset(msg); if (last.ids.length) draw(false); };
    return {
      stats: function () { return { ids: last.ids.slice(), color: last.color, drawn: drawn }; }
    };
  })();
  window.vigieMap.highlight = highlightLayer;
  // 12. transit signal priority: junctions that just granted (green ring), denied (red ring) or
  //     are preempted (white ring), with a short label; each fades out after keep_s
  // ---------------------------------------------------------------------------------------
  // Fed by `tspChanged` ({junctions: [{junction_id, lat, lon, kind, line, vehicle, text}], keep_s},
  // the whole set each time). See widgets/map/tsp_layer.py.
  var tspLayer = (function () {
    map.createPane('vgTsp').style.zIndex = 620;
    var group = L.layerGroup([], { pane: 'vgTsp' }).addTo(map);
    var last = [];
    var COLORS = { granted: '#3fb950', denied: '#f85149', preemption_start: '#ffffff' };
    function draw(msg) {
      group.clearLayers();
      last = msg.junctions || [];
      last.forEach(function (j) {
        var color = COLORS[j.kind] || '#8b949e';
        L.circleMarker([+j.lat, +j.lon], {
          pane: 'vgTsp', radius: 14, color: color, weight: 4, fill: true, fillOpacity: 0.15, interactive: false
        }).addTo(group);
        var html = '<div class="vg-tsp-label" style="color:' + escapeHtml(color) + ';font:600 12px sans-serif;' +
          'white-space:nowrap;text-shadow:0 0 3px #000,0 0 3px #000">' + escapeHtml(j.text || j.kind) + '</div>';
        L.marker([+j.lat, +j.lon], {
          pane: 'vgTsp', interactive: false,
          icon: L.divIcon({ className: 'vg-tsp-icon', html: html, iconSize: [220, 16], iconAnchor: [-16, 8] })
        }).addTo(group);
      });
    }
    handlers.tspChanged = draw;
    return {
      stats: function () {
        return { junctions: last.length, kinds: last.map(function (j) { return j.kind; }) };
      },
      pixelOf: function (id) {
        var j = last.filter(function (x) { return x.junction_id === id; })[0];
        if (!j) return null;
        var p = map.latLngToContainerPoint([+j.lat, +j.lon]);
        return { x: p.x, y: p.y };
      }
    };
  })();
  window.vigieMap.tsp = tspLayer;

  initBridge();
})();
