/**
 * The demo page (`/`, `/demo`) and the bundled browser client (`/assets/streamgate.js`). The page
 * uses the same client applications use: tail a topic live, publish to it.
 * `/demo?topic=t&from=earliest` starts tailing at once.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { HttpHost } from '../../app/host.js';

export const DEMO_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>streamgate — live topic</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d232a; background: #f7f8fa; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; margin-bottom: 1rem; }
  label { display: flex; flex-direction: column; font-size: .8rem; color: #555; }
  input, select, textarea, button { font: inherit; padding: .35rem .5rem; }
  textarea { width: 22rem; height: 2.2rem; }
  button { cursor: pointer; }
  #status { font-size: .85rem; margin-bottom: .75rem; }
  #status[data-state="open"] { color: #17803d; } #status[data-state="reconnecting"] { color: #b25e00; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e3e6ea; font-family: ui-monospace, monospace; font-size: .85rem; }
  th { background: #eef1f4; font-family: system-ui, sans-serif; }
  #pub-status { font-size: .85rem; }
</style>
</head>
<body>
<h1>streamgate — live topic</h1>
<div id="status" data-state="connecting">connecting…</div>
<form id="tail-form">
  <label>Topic <input id="topic" name="topic" required pattern="[a-zA-Z0-9._-]+" placeholder="events"></label>
  <label>From <select id="from" name="from"><option value="latest">latest</option><option value="earliest">earliest</option></select></label>
  <label>Key filter (MQTT-style) <input id="filter" name="filter" placeholder="sensors/+/temp"></label>
  <button id="tail" type="submit">Tail</button>
</form>
<form id="pub-form">
  <label>Key <input id="pub-key" name="key" placeholder="optional"></label>
  <label>Value (JSON, or text) <textarea id="pub-value" name="value">{"hello":"world"}</textarea></label>
  <button id="pub-send" type="submit">Publish</button>
  <span id="pub-status"></span>
</form>
<table>
  <thead><tr><th>partition</th><th>offset</th><th>time</th><th>key</th><th>value</th></tr></thead>
  <tbody id="records"></tbody>
</table>
<script type="module">
import { connect } from '/assets/streamgate.js';

const $ = (id) => document.getElementById(id);
const wsUrl = location.origin.replace(/^http/, 'ws') + '/v1/ws';
const client = connect(wsUrl, { onStateChange: (state) => { $('status').dataset.state = state; $('status').textContent = state; } });
let current;
const MAX_ROWS = 500;

function show(value) {
  if (value instanceof Uint8Array) return '0x' + Array.from(value.slice(0, 64), (b) => b.toString(16).padStart(2, '0')).join('') + (value.length > 64 ? '…' : '');
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function row(r) {
  const tr = document.createElement('tr');
  tr.className = 'record';
  for (const cell of [r.partition, r.offset, new Date(r.timestamp).toISOString(), r.key === null ? '' : show(r.key), show(r.value)]) {
    const td = document.createElement('td');
    td.textContent = String(cell);
    tr.append(td);
  }
  return tr;
}

async function tail(topic, from, filter) {
  if (current) await current.close();
  $('records').replaceChildren();
  current = client.subscribe(topic, { from, ...(filter ? { filter } : {}) }, (records) => {
    const body = $('records');
    for (const r of records) body.prepend(row(r));
    while (body.children.length > MAX_ROWS) body.lastChild.remove();
  }, { onError: (err) => { $('status').textContent = err.code + ': ' + err.message; } });
  history.replaceState(null, '', '?topic=' + encodeURIComponent(topic) + '&from=' + from);
}

$('tail-form').addEventListener('submit', (e) => {
  e.preventDefault();
  tail($('topic').value, $('from').value, $('filter').value);
});

$('pub-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const topic = $('topic').value;
  if (!topic) { $('pub-status').textContent = 'choose a topic first'; return; }
  const text = $('pub-value').value;
  let value;
  try { value = JSON.parse(text); } catch { value = text; } // plain text is published as a JSON string
  $('pub-status').textContent = 'publishing…';
  try {
    const [pos] = await client.publish(topic, [{ key: $('pub-key').value || null, value }]);
    $('pub-status').textContent = 'acked: partition ' + pos.partition + ', offset ' + pos.offset;
  } catch (err) {
    $('pub-status').textContent = 'failed: ' + (err.code ?? '') + ' ' + err.message;
  }
});

const params = new URLSearchParams(location.search);
if (params.get('topic')) {
  $('topic').value = params.get('topic');
  if (params.get('from')) $('from').value = params.get('from');
  tail($('topic').value, $('from').value, params.get('filter') ?? '');
}
</script>
</body>
</html>
`;

/** Registers `/`, `/demo` and `/assets/streamgate.js`. The bundle is read once, at startup. */
export function registerDemo(http: HttpHost, bundlePath: string, log: Logger): void {
  let bundle: Buffer | undefined;
  try {
    bundle = readFileSync(bundlePath);
  } catch (err) {
    log.warn({ err, bundlePath }, 'browser client bundle missing; /assets/streamgate.js will answer 404');
  }
  const page = Buffer.from(DEMO_HTML, 'utf8');
  http.onRequest((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/' || path === '/demo') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': page.length, 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : page);
      return true;
    }
    if (path === '/assets/streamgate.js' && bundle !== undefined) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'content-length': bundle.length, 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : bundle);
      return true;
    }
    return false;
  });
}
