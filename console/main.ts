/**
 * The operator console (`/console`): topics, a message browser, a live tail with a produce form,
 * consumer groups with lag, connections by protocol and principal, MQTT sessions and retained
 * messages, and live charts — all from the gateway's public APIs (v1, v3, /v1/admin, the
 * WebSocket API), so whatever it shows, a client can get too.
 *
 * Everything shown comes from clients (topic names, keys, values, headers, client ids) and is
 * hostile: it only ever reaches the page as text (textContent / text nodes), never as markup.
 */
import uPlot from 'uplot';
import { connect, type StreamgateClient, type StreamRecord } from '../clients/ts/browser/index.js';
import { fromBase64, headerPairs, showBytes, shownKey, shownValue, type Shown } from './records.js';

// --- Plumbing ------------------------------------------------------------------------------

const TOKEN_KEY = 'streamgate.console.token';
/** Topics whose offsets the topics view polls (the rest are listed without them). */
const MAX_POLLED_TOPICS = 50;
/** Consumer groups whose members and lags are read per refresh. */
const MAX_GROUPS = 50;
/** Rows kept in the tail; older ones are dropped. */
const MAX_TAIL_ROWS = 500;
/** Points per sparkline / chart. */
const HISTORY = 60;
const POLL_MS = 2_000;
/** Seconds the live charts show (one sample a second). */
const CHART_WINDOW_S = 120;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`#${id} missing`);
  return found as T;
};

type Child = Node | string | number | null | undefined;

/** An element with attributes and children; strings become text nodes (never parsed as HTML). */
function el(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) e.append(typeof c === 'object' ? c : document.createTextNode(String(c)));
  return e;
}

function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error_code?: number; message?: string; code?: string } | undefined,
  ) {
    super(body?.message ?? `HTTP ${status}`);
  }
}

/** A JSON call to the gateway with the console's credentials. */
async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  const t = token();
  if (t !== null) headers.set('authorization', `Bearer ${t}`);
  const res = await fetch(path, { ...init, headers });
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    if (res.status === 401) showLogin((body as { message?: string } | undefined)?.message ?? 'Credentials required.');
    throw new ApiError(res.status, body as ApiError['body']);
  }
  return body as T;
}

function describe(err: unknown): string {
  if (err instanceof ApiError) return `${err.status}${err.body?.code ? ` ${err.body.code}` : ''}: ${err.message}`;
  if (err instanceof Error) return `${(err as { code?: string }).code ?? err.name}: ${err.message}`;
  return String(err);
}

const wsUrl = (): string => `${location.origin.replace(/^http/, 'ws')}/v1/ws`;

// --- Record display ------------------------------------------------------------------------

function cell(shown: Shown | null, cls: string): HTMLElement {
  if (shown === null) return el('td', { class: `${cls} none` }, '—');
  return el('td', { class: cls }, el('span', { class: 'text' }, shown.text), shown.note === undefined ? null : el('span', { class: 'note' }, shown.note));
}

/** A record as a REST v1 fetch returns it, or as the WebSocket client delivers it. */
interface AnyRecord {
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: number;
  readonly key: unknown;
  readonly keyEncoding?: string;
  readonly value: unknown;
  readonly encoding?: string;
  readonly headers?: unknown;
  readonly headersEncoding?: string;
}

function recordRow(r: AnyRecord): HTMLElement {
  const headers = headerPairs(r.headers, r.headersEncoding);
  return el(
    'tr',
    { class: 'record', 'data-partition': String(r.partition), 'data-offset': String(r.offset) },
    el('td', {}, r.partition),
    el('td', { class: 'offset' }, r.offset),
    el('td', {}, new Date(r.timestamp).toISOString()),
    cell(shownKey(r.key, r.keyEncoding), 'key'),
    cell(shownValue(r.value, r.encoding), 'value'),
    el('td', { class: 'headers' }, ...headers.map(([n, v]) => el('span', { class: 'header' }, el('b', {}, n), '=', v))),
  );
}

function keyText(r: AnyRecord): string {
  return shownKey(r.key, r.keyEncoding)?.text ?? '';
}

// --- Charts (uPlot) -----------------------------------------------------------------------

function sparkline(): { root: HTMLElement; push(t: number, v: number): void } {
  const root = el('div', { class: 'spark' });
  const xs: number[] = [];
  const ys: number[] = [];
  const plot = new uPlot(
    {
      width: 140,
      height: 32,
      legend: { show: false },
      cursor: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: true, range: (_u, _min, max) => [max - (HISTORY * POLL_MS) / 1000, max] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      series: [{}, { stroke: '#2f6fdb', fill: 'rgba(47,111,219,.15)', width: 1, points: { show: false } }],
    },
    [xs, ys],
    root,
  );
  return {
    root,
    push(t, v) {
      xs.push(t / 1000);
      ys.push(v);
      if (xs.length > HISTORY) {
        xs.shift();
        ys.shift();
      }
      plot.setData([xs, ys]);
    },
  };
}

function chart(title: string, unit: string): { root: HTMLElement; value: HTMLElement; push(t: number, v: number | null): void } {
  const value = el('span', { class: 'chart-value' }, '–');
  const root = el('div', { class: 'chart', 'data-chart': title }, el('h3', {}, title, ' ', value));
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  const plot = new uPlot(
    {
      width: 460,
      height: 160,
      legend: { show: false },
      // The last two minutes, whatever the number of samples so far (one point would span years).
      scales: { x: { time: true, range: (_u, _min, max) => [max - CHART_WINDOW_S, max] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [{}, { size: 56, values: (_u, ticks) => ticks.map((t) => `${t}${unit}`) }],
      series: [{}, { label: title, stroke: '#2f6fdb', width: 2, spanGaps: false }],
    },
    [xs, ys],
    root,
  );
  return {
    root,
    value,
    push(t, v) {
      xs.push(t / 1000);
      ys.push(v);
      if (xs.length > CHART_WINDOW_S) {
        xs.shift();
        ys.shift();
      }
      plot.setData([xs, ys as number[]]);
      value.textContent = v === null ? '–' : `${Math.round(v * 10) / 10}${unit}`;
      root.dataset.points = String(xs.length);
    },
  };
}

// --- Session state -----------------------------------------------------------------------

interface WhoAmI {
  principal: string;
  anonymous: boolean;
  operator: boolean;
  writes: boolean;
}

let me: WhoAmI | undefined;
let client: StreamgateClient | undefined;
let stopView: (() => void) | undefined;

function wsClient(): StreamgateClient {
  const t = token();
  client ??= connect(wsUrl(), t === null ? {} : { token: t });
  return client;
}

function showLogin(message: string): void {
  stopView?.();
  stopView = undefined;
  $('login').hidden = false;
  for (const v of document.querySelectorAll<HTMLElement>('.view')) v.hidden = true;
  $('login-status').textContent = message;
}

async function boot(): Promise<void> {
  try {
    me = await api<WhoAmI>('/v1/whoami');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('whoami').textContent = describe(err);
    return;
  }
  $('login').hidden = true;
  $('whoami').textContent = me.anonymous ? 'anonymous' : me.principal;
  $('whoami').dataset.operator = String(me.operator);
  $('logout').hidden = token() === null;
  document.body.classList.toggle('read-only', !me.writes);
  document.body.classList.toggle('not-operator', !me.operator);
  // No produce form for a principal that may not write anything: a read-only console.
  $('produce-form').hidden = !me.writes;
  for (const a of document.querySelectorAll<HTMLElement>('a.operator')) a.hidden = !me.operator;
  route();
}

const VIEWS: Record<string, () => () => void> = {
  topics: topicsView,
  browse: browseView,
  tail: tailView,
  groups: groupsView,
  connections: connectionsView,
  mqtt: mqttView,
  metrics: metricsView,
};

function route(): void {
  if (me === undefined) return;
  let name = location.hash.replace(/^#/, '').split('?')[0] || 'topics';
  if (!(name in VIEWS) || (!me.operator && ['connections', 'mqtt', 'metrics'].includes(name))) name = 'topics';
  stopView?.();
  for (const v of document.querySelectorAll<HTMLElement>('.view')) v.hidden = v.id !== `view-${name}`;
  for (const a of document.querySelectorAll<HTMLElement>('#nav a')) a.classList.toggle('active', a.dataset.view === name);
  stopView = VIEWS[name]!();
}

/** Runs `tick` now and every `ms` until stopped; a tick never overlaps the previous one. */
function poll(tick: () => Promise<void>, ms = POLL_MS): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = async () => {
    try {
      await tick();
    } finally {
      if (!stopped) timer = setTimeout(run, ms);
    }
  };
  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function topicParam(): string | null {
  return new URLSearchParams(location.hash.split('?')[1] ?? '').get('topic');
}

// --- Topics ------------------------------------------------------------------------------

const sparks = new Map<string, ReturnType<typeof sparkline>>();
const lastTotals = new Map<string, { at: number; total: bigint }>();

function topicsView(): () => void {
  const body = $('topics-body');
  const refresh = async () => {
    let topics: { name: string; partitions: number }[];
    try {
      topics = (await api<{ topics: { name: string; partitions: number }[] }>('/v1/topics')).topics;
    } catch (err) {
      body.replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'error' }, describe(err))));
      return;
    }
    topics.sort((a, b) => a.name.localeCompare(b.name));
    $('topic-names').replaceChildren(...topics.map((t) => el('option', { value: t.name })));
    const offsets = await Promise.all(
      topics.slice(0, MAX_POLLED_TOPICS).map((t) =>
        api<{ partitions: { partition: number; earliest: string; latest: string }[] }>(`/v1/topics/${encodeURIComponent(t.name)}/offsets`).then(
          (o) => o.partitions,
          () => undefined,
        ),
      ),
    );
    const now = Date.now();
    const rows = topics.map((t, i) => {
      const parts = offsets[i];
      let spark = sparks.get(t.name);
      if (spark === undefined) {
        spark = sparkline();
        sparks.set(t.name, spark);
      }
      let ranges = '';
      let records = '';
      let rate = '';
      if (parts !== undefined) {
        ranges = parts.map((p) => `p${p.partition}: ${p.earliest} → ${p.latest}`).join('  ');
        const total = parts.reduce((n, p) => n + BigInt(p.latest), 0n);
        records = parts.reduce((n, p) => n + BigInt(p.latest) - BigInt(p.earliest), 0n).toString();
        const before = lastTotals.get(t.name);
        if (before !== undefined && now > before.at) {
          const perSec = (Number(total - before.total) * 1000) / (now - before.at);
          spark.push(now, perSec);
          rate = `${perSec.toFixed(1)}/s`;
        }
        lastTotals.set(t.name, { at: now, total });
      }
      const link = el('a', { href: `#browse?topic=${encodeURIComponent(t.name)}` }, t.name);
      return el(
        'tr',
        { 'data-topic': t.name },
        el('td', { class: 'name' }, link),
        el('td', {}, t.partitions),
        el('td', { class: 'ranges' }, ranges),
        el('td', { class: 'records' }, records),
        el('td', { class: 'rate' }, el('div', { class: 'rate-cell' }, spark.root, el('span', {}, rate))),
      );
    });
    body.replaceChildren(...(rows.length === 0 ? [el('tr', {}, el('td', { colspan: '5' }, 'No topics.'))] : rows));
  };
  $('topics-refresh').onclick = () => void refresh();
  return poll(refresh);
}

// --- Message browser ----------------------------------------------------------------------

function browseView(): () => void {
  const t = topicParam();
  if (t !== null) $<HTMLInputElement>('browse-topic').value = t;
  return () => undefined;
}

interface FetchPage {
  records: AnyRecord[];
  next_offset: string;
  earliest: string;
  latest: string;
}

let browseNext: string | undefined;

/** The first offset at or after `ms` in one partition: the WebSocket API resolves a timestamp start. */
async function offsetForTime(topic: string, partition: number, ms: number): Promise<string> {
  const sub = wsClient().subscribe(topic, { from: { timestamp: ms }, partitions: [partition] }, () => undefined);
  try {
    const positions = await sub.subscribed();
    const offset = positions[String(partition)];
    if (offset === undefined) throw new Error(`Partition ${partition} has no position for that time.`);
    return offset;
  } finally {
    await sub.close();
  }
}

async function browse(offset?: string): Promise<void> {
  const status = $('browse-status');
  const topic = $<HTMLInputElement>('browse-topic').value.trim();
  const partition = Number($<HTMLInputElement>('browse-partition').value);
  const mode = $<HTMLSelectElement>('browse-mode').value;
  const max = Math.min(500, Math.max(1, Number($<HTMLInputElement>('browse-max').value) || 50));
  const keyFilter = $<HTMLInputElement>('browse-key').value;
  status.textContent = 'fetching…';
  try {
    let from = offset;
    if (from === undefined) {
      if (mode === 'time') {
        const ms = new Date($<HTMLInputElement>('browse-time').value).getTime();
        if (Number.isNaN(ms)) throw new Error('Choose a time.');
        from = await offsetForTime(topic, partition, ms);
      } else if (mode === 'offset') from = String(Math.max(0, Math.trunc(Number($<HTMLInputElement>('browse-offset').value) || 0)));
      else from = mode;
    }
    const page = await api<FetchPage>(`/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/records?offset=${encodeURIComponent(from)}&max=${max}`);
    const shown = keyFilter === '' ? page.records : page.records.filter((r) => keyText(r).includes(keyFilter));
    $('browse-body').replaceChildren(...shown.map(recordRow));
    browseNext = page.records.length > 0 ? page.next_offset : undefined;
    $<HTMLButtonElement>('browse-next').disabled = browseNext === undefined;
    status.textContent = `${shown.length} of ${page.records.length} records from offset ${from}; log ${page.earliest} → ${page.latest}`;
  } catch (err) {
    status.textContent = describe(err);
  }
}

// --- Live tail and produce ------------------------------------------------------------------

let tailSub: { close(): Promise<void> } | undefined;

function tailView(): () => void {
  const t = topicParam();
  if (t !== null) {
    $<HTMLInputElement>('tail-topic').value = t;
    $<HTMLInputElement>('produce-topic').value = t;
  }
  return () => undefined;
}

async function startTail(): Promise<void> {
  await tailSub?.close();
  const topic = $<HTMLInputElement>('tail-topic').value.trim();
  const from = $<HTMLSelectElement>('tail-from').value as 'earliest' | 'latest';
  const filter = $<HTMLInputElement>('tail-filter').value.trim();
  const body = $('tail-body');
  const status = $('tail-status');
  body.replaceChildren();
  status.textContent = 'subscribing…';
  const sub = wsClient().subscribe(
    topic,
    { from, ...(filter === '' ? {} : { filter }) },
    (records: StreamRecord[]) => {
      for (const r of records) body.prepend(recordRow(r as AnyRecord));
      while (body.children.length > MAX_TAIL_ROWS) body.lastChild?.remove();
    },
    {
      onError: (err) => {
        status.textContent = describe(err);
        status.dataset.state = 'error';
        $<HTMLButtonElement>('tail-stop').disabled = true;
      },
    },
  );
  tailSub = sub;
  $<HTMLButtonElement>('tail-stop').disabled = false;
  if ($<HTMLInputElement>('produce-topic').value === '') $<HTMLInputElement>('produce-topic').value = topic;
  try {
    await sub.subscribed();
    if (tailSub === sub) {
      status.textContent = `tailing ${topic}`;
      status.dataset.state = 'open';
    }
  } catch (err) {
    status.textContent = describe(err);
  }
}

async function produce(): Promise<void> {
  const status = $('produce-status');
  const topic = $<HTMLInputElement>('produce-topic').value.trim();
  const key = $<HTMLInputElement>('produce-key').value;
  const text = $<HTMLTextAreaElement>('produce-value').value;
  const headersText = $<HTMLInputElement>('produce-headers').value.trim();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text; // plain text is produced as a JSON string
  }
  let headers: Record<string, string> | undefined;
  if (headersText !== '') {
    try {
      const parsed: unknown = JSON.parse(headersText);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) throw new Error();
      headers = parsed as Record<string, string>;
    } catch {
      status.textContent = 'Headers must be a JSON object of strings.';
      return;
    }
  }
  status.textContent = 'producing…';
  try {
    const res = await api<{ offsets: { partition: number; offset: string | null; error?: string; code?: string }[] }>(`/v1/topics/${encodeURIComponent(topic)}/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: [{ key: key === '' ? null : key, value, ...(headers === undefined ? {} : { headers }) }] }),
    });
    const o = res.offsets[0]!;
    status.textContent = o.offset === null ? `failed: ${o.code ?? ''} ${o.error ?? ''}` : `acked: partition ${o.partition}, offset ${o.offset}`;
  } catch (err) {
    status.textContent = `failed: ${describe(err)}`;
  }
}

// --- Consumer groups (Confluent v3) --------------------------------------------------------

interface V3List<T> {
  data: T[];
}
interface V3Group {
  consumer_group_id: string;
  state?: string;
  is_simple?: boolean;
  partition_assignor?: string;
}
interface V3Consumer {
  consumer_id: string;
  client_id?: string;
  instance_id?: string | null;
}
interface V3Lag {
  topic_name: string;
  partition_id: number;
  current_offset: number | string;
  log_end_offset: number | string;
  lag: number | string;
  consumer_id?: string;
  client_id?: string;
}

function groupsView(): () => void {
  const status = $('groups-status');
  const body = $('groups-body');
  const refresh = async () => {
    let cluster: string;
    try {
      const clusters = await api<V3List<{ cluster_id: string }>>('/v3/clusters');
      if (clusters.data.length === 0) throw new Error('No cluster.');
      cluster = clusters.data[0]!.cluster_id;
    } catch (err) {
      status.textContent = err instanceof ApiError && err.status === 404 ? 'This gateway does not serve the Confluent v3 API (/v3), which lists consumer groups.' : describe(err);
      return;
    }
    const base = `/v3/clusters/${encodeURIComponent(cluster)}/consumer-groups`;
    let groups: V3Group[];
    try {
      groups = (await api<V3List<V3Group>>(base)).data;
    } catch (err) {
      status.textContent = describe(err);
      return;
    }
    groups.sort((a, b) => a.consumer_group_id.localeCompare(b.consumer_group_id));
    status.textContent = `cluster ${cluster}: ${groups.length} groups${groups.length > MAX_GROUPS ? ` (first ${MAX_GROUPS} shown)` : ''}`;
    const cards = await Promise.all(
      groups.slice(0, MAX_GROUPS).map(async (g) => {
        const path = `${base}/${encodeURIComponent(g.consumer_group_id)}`;
        const [consumers, lags] = await Promise.all([
          api<V3List<V3Consumer>>(`${path}/consumers`).then((r) => r.data, () => [] as V3Consumer[]),
          api<V3List<V3Lag>>(`${path}/lags`).then((r) => r.data, () => [] as V3Lag[]),
        ]);
        lags.sort((a, b) => a.topic_name.localeCompare(b.topic_name) || a.partition_id - b.partition_id);
        const total = lags.reduce((n, l) => n + Number(l.lag), 0);
        return el(
          'div',
          { class: 'group', 'data-group': g.consumer_group_id },
          el('h3', {}, g.consumer_group_id, ' ', el('span', { class: 'state' }, g.state ?? ''), ' ', el('span', { class: 'total-lag' }, `total lag ${total}`)),
          el(
            'p',
            { class: 'members' },
            consumers.length === 0 ? 'no members' : `members: `,
            ...consumers.map((c) => el('span', { class: 'member' }, c.consumer_id, c.client_id ? ` (${c.client_id})` : '')),
          ),
          el(
            'table',
            {},
            el('thead', {}, el('tr', {}, ...['topic', 'partition', 'assigned to', 'committed', 'log end', 'lag'].map((h) => el('th', {}, h)))),
            el(
              'tbody',
              {},
              ...lags.map((l) =>
                el(
                  'tr',
                  { 'data-topic': l.topic_name, 'data-partition': String(l.partition_id) },
                  el('td', {}, l.topic_name),
                  el('td', {}, l.partition_id),
                  el('td', {}, l.consumer_id ?? '—'),
                  el('td', { class: 'committed' }, l.current_offset),
                  el('td', {}, l.log_end_offset),
                  el('td', { class: 'lag' }, l.lag),
                ),
              ),
            ),
          ),
        );
      }),
    );
    body.replaceChildren(...cards);
  };
  $('groups-refresh').onclick = () => void refresh();
  return poll(refresh, 3_000);
}

// --- Connections -------------------------------------------------------------------------

interface ConnectionsSnapshot {
  at: number;
  protocols: { protocol: string; open: number; openedTotal: number }[];
  principals: { principal: string; connections: Record<string, number>; recordsIn: number; recordsOut: number }[];
  principalsTracked: number;
}

function connectionsView(): () => void {
  let previous: ConnectionsSnapshot | undefined;
  const rate = (now: number, before: number | undefined, dt: number) => (before === undefined || dt <= 0 ? '' : ((Math.max(0, now - before) * 1000) / dt).toFixed(1));
  return poll(async () => {
    let snap: ConnectionsSnapshot;
    try {
      snap = await api<ConnectionsSnapshot>('/v1/admin/connections');
    } catch (err) {
      $('connections-status').textContent = describe(err);
      return;
    }
    const dt = previous === undefined ? 0 : snap.at - previous.at;
    const prevProto = new Map(previous?.protocols.map((p) => [p.protocol, p.openedTotal]));
    const prevPrincipal = new Map(previous?.principals.map((p) => [p.principal, p]));
    $('protocols-body').replaceChildren(
      ...snap.protocols.map((p) =>
        el('tr', { 'data-protocol': p.protocol }, el('td', {}, p.protocol), el('td', { class: 'open' }, p.open), el('td', {}, p.openedTotal), el('td', {}, rate(p.openedTotal, prevProto.get(p.protocol), dt))),
      ),
    );
    $('principals-body').replaceChildren(
      ...snap.principals.map((p) => {
        const before = prevPrincipal.get(p.principal);
        const conns = Object.entries(p.connections).map(([proto, n]) => `${proto}: ${n}`).join(', ');
        return el(
          'tr',
          { 'data-principal': p.principal },
          el('td', {}, p.principal),
          el('td', { class: 'connections' }, conns === '' ? '—' : conns),
          el('td', {}, p.recordsIn),
          el('td', {}, rate(p.recordsIn, before?.recordsIn, dt)),
          el('td', {}, p.recordsOut),
          el('td', {}, rate(p.recordsOut, before?.recordsOut, dt)),
        );
      }),
    );
    $('connections-status').textContent = `${snap.principalsTracked} principals tracked · ${new Date(snap.at).toLocaleTimeString()}`;
    previous = snap;
  });
}

// --- MQTT ----------------------------------------------------------------------------------

interface MqttView {
  sessions: { total: number; truncated: boolean; items: { clientId: string; connected: boolean; principal: string | null; expiry: number; expiresAt: number | null; subscriptions: { filter: string; qos: number; share: string | null }[]; pending: number }[] };
  retained: { total: number; truncated: boolean; items: { topic: string; qos: number; bytes: number; storedAt: number; payload: string }[] };
}

function mqttView(): () => void {
  return poll(async () => {
    let view: MqttView;
    try {
      view = await api<MqttView>('/v1/admin/mqtt');
    } catch (err) {
      $('mqtt-status').textContent = err instanceof ApiError && err.status === 404 ? 'The MQTT adapter does not run on this gateway.' : describe(err);
      return;
    }
    $('mqtt-status').textContent = `${view.sessions.total} sessions${view.sessions.truncated ? ' (first 500 shown)' : ''}, ${view.retained.total} retained messages${view.retained.truncated ? ' (first 500 shown)' : ''}`;
    $('mqtt-sessions').replaceChildren(
      ...view.sessions.items.map((s) =>
        el(
          'tr',
          { 'data-client-id': s.clientId },
          el('td', {}, s.clientId),
          el('td', { class: 'state' }, s.connected ? 'connected' : 'offline'),
          el('td', {}, s.principal ?? '—'),
          el('td', { class: 'subscriptions' }, ...s.subscriptions.map((sub) => el('span', { class: 'sub' }, sub.share === null ? '' : `$share/${sub.share}/`, sub.filter, ` (QoS ${sub.qos})`))),
          el('td', {}, s.pending),
          el('td', {}, s.expiresAt === null ? (s.expiry === 0 ? 'with connection' : `${s.expiry}s`) : new Date(s.expiresAt).toISOString()),
        ),
      ),
    );
    $('mqtt-retained').replaceChildren(
      ...view.retained.items.map((m) => {
        const shown = showBytes(fromBase64(m.payload));
        return el(
          'tr',
          { 'data-topic': m.topic },
          el('td', {}, m.topic),
          el('td', {}, m.qos),
          el('td', {}, m.bytes),
          el('td', {}, new Date(m.storedAt).toISOString()),
          cell({ text: shown.text, ...(shown.base64 ? { note: 'base64' } : {}) }, 'value'),
        );
      }),
    );
  }, 3_000);
}

// --- Live metrics (WebSocket `metrics` op) -------------------------------------------------

interface MetricsSample {
  at: number;
  producedPerSec: number;
  deliveredPerSec: number;
  deliveryP99Ms: number | null;
  slowConsumerCuts: number;
  totals: { produced: number; delivered: number; slowConsumerCuts: number };
}

let charts: { produced: ReturnType<typeof chart>; delivered: ReturnType<typeof chart>; p99: ReturnType<typeof chart>; slow: ReturnType<typeof chart> } | undefined;

function metricsView(): () => void {
  const status = $('metrics-status');
  if (charts === undefined) {
    charts = { produced: chart('produce/s', ''), delivered: chart('deliveries/s', ''), p99: chart('p99 delivery latency', ' ms'), slow: chart('slow-consumer cuts', '') };
    $('charts').replaceChildren(charts.produced.root, charts.delivered.root, charts.p99.root, charts.slow.root);
  }
  let stopped = false;
  let socket: WebSocket | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let backoff = 500;
  const open = () => {
    const t = token();
    socket = new WebSocket(t === null ? wsUrl() : `${wsUrl()}?access_token=${encodeURIComponent(t)}`, 'streamgate.v1.json');
    socket.onopen = () => {
      backoff = 500;
      status.textContent = 'live';
      socket!.send(JSON.stringify({ op: 'metrics', id: 'console-metrics', intervalMs: 1000 }));
    };
    socket.onmessage = (e) => {
      const frame = JSON.parse(String(e.data)) as { op: string; sample?: MetricsSample; code?: string; message?: string };
      if (frame.op === 'metrics' && frame.sample !== undefined && charts !== undefined) {
        const s = frame.sample;
        charts.produced.push(s.at, s.producedPerSec);
        charts.delivered.push(s.at, s.deliveredPerSec);
        charts.p99.push(s.at, s.deliveryP99Ms);
        charts.slow.push(s.at, s.slowConsumerCuts);
        status.textContent = `live · since start: ${s.totals.produced} produced, ${s.totals.delivered} delivered, ${s.totals.slowConsumerCuts} slow-consumer cuts`;
      } else if (frame.op === 'error') {
        status.textContent = `${frame.code ?? ''}: ${frame.message ?? ''}`;
        stopped = true;
        socket?.close();
      }
    };
    socket.onclose = () => {
      if (stopped) return;
      status.textContent = 'reconnecting…';
      retry = setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, 10_000);
    };
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(retry);
    socket?.close();
  };
}

// --- Wiring --------------------------------------------------------------------------------

function wire(): void {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $<HTMLInputElement>('login-token').value.trim());
    $<HTMLInputElement>('login-token').value = '';
    void client?.close();
    client = undefined;
    void boot();
  });
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    void client?.close();
    client = undefined;
    me = undefined;
    location.reload();
  });
  $('browse-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void browse();
  });
  $('browse-next').addEventListener('click', () => {
    if (browseNext !== undefined) void browse(browseNext);
  });
  $('tail-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void startTail();
  });
  $('tail-stop').addEventListener('click', () => {
    void tailSub?.close();
    tailSub = undefined;
    $('tail-status').textContent = 'stopped';
    $<HTMLButtonElement>('tail-stop').disabled = true;
  });
  $('produce-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (me?.writes) void produce();
  });
  window.addEventListener('hashchange', route);
  void boot();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire);
else wire();
