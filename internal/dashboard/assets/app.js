// Datastream dashboard. Every value shown comes from log lines, which
// attackers write: it is only ever set as text (textContent, attributes
// via DOM properties), never parsed as HTML.
'use strict';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c);
  return e;
}

function fmtInt(n) { return Number(n).toLocaleString('en-US'); }
function fmtBytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}
function fmtSecs(s) {
  if (s < 90) return s.toFixed(0) + ' s';
  if (s < 5400) return (s / 60).toFixed(0) + ' min';
  if (s < 172800) return (s / 3600).toFixed(1) + ' h';
  return (s / 86400).toFixed(1) + ' d';
}
function fmtMs(s) { return (s * 1000).toFixed(s < 0.01 ? 1 : 0) + ' ms'; }

// The view's own parameters, for the API and for links.
function query(extra) {
  const q = new URLSearchParams(params);
  for (const [k, v] of Object.entries(extra || {})) {
    if (v === null) q.delete(k); else q.set(k, v);
  }
  return q;
}

function fillForm() {
  const f = $('filters');
  for (const name of ['range', 'from', 'to', 'host', 'status', 'country', 'bots']) {
    if (params.has(name)) f.elements[name].value = params.get(name);
  }
  if (!params.has('range')) f.elements.range.value = '24h';
  const showCustom = () => {
    for (const e of document.querySelectorAll('.custom')) e.hidden = f.elements.range.value !== 'custom';
  };
  f.elements.range.addEventListener('change', showCustom);
  showCustom();
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const name of ['range', 'from', 'to', 'host', 'status', 'country', 'bots']) {
      const v = f.elements[name].value.trim();
      if (v && !((name === 'from' || name === 'to') && f.elements.range.value !== 'custom')) q.set(name, v);
    }
    location.search = q.toString();
  });
}

async function api(path, extra) {
  const r = await fetch(path + '?' + query(extra).toString(), { headers: { Accept: 'application/json' } });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function setCard(id, text, n) {
  const e = $(id);
  e.textContent = text;
  if (n !== undefined) e.dataset.n = String(n);
}

function renderOverview(res) {
  const o = res.data, v = res.view;
  setCard('ov-requests', fmtInt(o.requests), o.requests);
  setCard('ov-visitors', fmtInt(o.visitors), o.visitors);
  setCard('ov-bytes', fmtBytes(o.bytes), o.bytes);
  setCard('ov-errors', (100 * o.error_rate).toFixed(1) + ' %', o.error_rate);
  setCard('ov-rps', o.requests_per_second.toFixed(2), o.requests_per_second);
  setCard('ov-lag', o.newest ? fmtSecs(o.lag_seconds) : 'no data', o.lag_seconds);
  const st = $('status');
  const span = v.from.replace('T', ' ').replace(':00Z', '') + ' → ' + v.to.replace('T', ' ').replace(':00Z', '') + ' UTC';
  if (!o.newest) st.textContent = 'No data yet: the database has no lines.';
  else if (v.anchored) st.textContent = 'Nothing in the last ' + v.range + ' before now: showing the ' + v.range + ' up to the newest line (' + span + ').';
  else st.textContent = span;
}

function renderRespTimes(res) {
  const p = res.data;
  setCard('ov-rt', p.count ? fmtMs(p.p50) + ' / ' + fmtMs(p.p95) + ' / ' + fmtMs(p.p99) : 'n/a', p.count);
}

let chart = null;
const classes = [[2, '2xx', '#4caf50'], [3, '3xx', '#2196f3'], [4, '4xx', '#ff9800'], [5, '5xx', '#f44336'], [1, '1xx', '#9c27b0'], [0, 'none', '#9e9e9e']];

function renderChart(res) {
  const pts = res.data.points;
  const xs = pts.map((p) => Date.parse(p.time) / 1000);
  const own = classes.map(([c]) => pts.map((p) => p.by_class[c]));
  // Stacked: each series is the sum of itself and those below it, drawn
  // from the top down so each fill covers the one above it.
  const cum = [];
  let acc = xs.map(() => 0);
  for (const s of own) { acc = acc.map((a, i) => a + s[i]); cum.push(acc); }
  const order = classes.map((_, i) => i).reverse();
  const data = [xs, ...order.map((i) => cum[i])];
  const series = [{}, ...order.map((i) => ({
    label: classes[i][1], stroke: classes[i][2], fill: classes[i][2] + 'cc', width: 1,
    value: (u, v, si, idx) => (idx == null ? '–' : fmtInt(own[i][idx])),
  }))];
  const opts = { width: Math.max(300, $('chart').clientWidth), height: 220, series, axes: [{}, { size: 60 }], scales: { x: { time: true } } };
  if (chart) chart.destroy();
  chart = new uPlot(opts, data, $('chart'));
}

function panelTable(panel, entries) {
  const box = el('div', { className: 'panel', id: 'panel-' + panel.name });
  box.append(el('h2', { textContent: panel.title }));
  if (!entries.length) {
    box.append(el('p', { className: 'empty', textContent: 'no data' }));
    return box;
  }
  const max = Math.max(...entries.map((e) => e.n));
  const body = el('tbody');
  for (const e of entries) {
    const link = el('a', { className: 'entry', textContent: e.label, title: e.label });
    const target = panel.field ? { field: panel.field, value: e.value } : { [panel.param]: e.value };
    link.href = '?' + query(target).toString();
    const bar = el('span', { className: 'bar' });
    bar.style.width = (100 * e.n / max).toFixed(1) + '%';
    const cell = el('td', {}, link, bar);
    const n = el('td', { className: 'n', textContent: fmtInt(e.n) });
    n.dataset.n = String(e.n);
    body.append(el('tr', {}, cell, n));
  }
  box.append(el('table', {}, body));
  return box;
}

function renderLines(res) {
  const v = res.view;
  $('drill-title').textContent = v.field ? 'Latest lines where ' + v.field + ' is "' + v.value + '"' : 'Latest lines';
  const body = $('lines');
  body.replaceChildren();
  if (!res.data.length) body.append(el('tr', {}, el('td', { className: 'empty', colSpan: 3, textContent: 'no lines' })));
  for (const l of res.data) {
    body.append(el('tr', {}, el('td', { textContent: l.time.replace('T', ' ').replace('Z', '') }),
      el('td', { textContent: String(l.status || '') }), el('td', { textContent: l.line })));
  }
}

let panels = null;
let loading = false, again = false;

async function load() {
  if (loading) { again = true; return; }
  loading = true;
  try {
    if (!panels) panels = await (await fetch('/api/panels')).json();
    const tops = panels.map((p) => p.name);
    const [ov, rt, series, lines, ...lists] = await Promise.all([
      api('/api/overview'), api('/api/response-times'), api('/api/requests'), api('/api/lines', { limit: 20 }),
      ...tops.map((name) => api('/api/top/' + encodeURIComponent(name))),
    ]);
    renderOverview(ov);
    renderRespTimes(rt);
    renderChart(series);
    renderLines(lines);
    $('panels').replaceChildren(...lists.map((res) => panelTable(res.data.panel, res.data.entries)));
    document.body.dataset.loaded = String(Date.now());
  } catch (err) {
    $('status').textContent = 'Error: ' + err.message;
  } finally {
    loading = false;
    if (again) { again = false; load(); }
  }
}

fillForm();
load();
// Live: the server says when new rows were counted. EventSource
// reconnects by itself if the dashboard restarts.
const es = new EventSource('/api/events');
es.addEventListener('change', () => load());
