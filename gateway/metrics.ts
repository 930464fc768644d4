/**
 * Prometheus metrics (prom-client), one registry per core. Label sets are bounded: protocols
 * are a handful, and topic labels are capped (topics past the cap are counted as `_other`) so a
 * client creating many topics cannot blow up the time-series count.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Distinct topic label values kept; the rest are `_other`. */
const MAX_TOPIC_LABELS = 200;

/** Delivery latency buckets (seconds): sub-millisecond tails up to records caught up from minutes back. */
const DELIVERY_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The gateway's metrics. */
export class Metrics {
  /** What `/metrics` serves: this core's series plus Node's default process metrics. */
  readonly registry = new Registry();
  private readonly topics = new Set<string>();

  readonly connections = new Gauge({ name: 'streamgate_connections', help: 'Open client connections by protocol.', labelNames: ['protocol'], registers: [this.registry] });
  readonly connectionsTotal = new Counter({ name: 'streamgate_connections_total', help: 'Client connections accepted by protocol.', labelNames: ['protocol'], registers: [this.registry] });
  readonly recordsIn = new Counter({ name: 'streamgate_records_in_total', help: 'Records produced (acknowledged by the backend) by protocol and topic.', labelNames: ['protocol', 'topic'], registers: [this.registry] });
  readonly recordsOut = new Counter({ name: 'streamgate_records_out_total', help: 'Records delivered to subscribers by protocol and topic.', labelNames: ['protocol', 'topic'], registers: [this.registry] });
  readonly produceLatency = new Histogram({
    name: 'streamgate_produce_latency_seconds',
    help: 'Time from produce request to backend acknowledgement.',
    labelNames: ['protocol'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'streamgate_delivery_latency_seconds',
    help: 'Time from a record\'s timestamp to its hand-over to a subscriber (catch-up from the log counts its age).',
    buckets: DELIVERY_LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly subscriptions = new Gauge({ name: 'streamgate_subscriptions', help: 'Active broadcast subscriptions.', registers: [this.registry] });
  readonly readers = new Gauge({ name: 'streamgate_tail_readers', help: 'Shared tail readers (one per topic-partition with live subscribers).', registers: [this.registry] });
  readonly queuedBytes = new Gauge({ name: 'streamgate_subscriber_queued_bytes', help: 'Bytes queued for subscribers, all together.', registers: [this.registry] });
  readonly subscriberLag = new Gauge({ name: 'streamgate_subscribers_behind', help: 'Subscriber partitions detached from the tail and catching up from the log.', registers: [this.registry] });
  readonly slowConsumers = new Counter({ name: 'streamgate_slow_consumer_disconnects_total', help: 'Subscriptions ended because the subscriber did not keep up.', registers: [this.registry] });
  readonly authFailures = new Counter({ name: 'streamgate_auth_failures_total', help: 'Authentication failures and authorization denials.', labelNames: ['kind'], registers: [this.registry] });
  readonly backendErrors = new Counter({ name: 'streamgate_backend_errors_total', help: 'Backend calls that failed, by catalogue code.', labelNames: ['code'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'streamgate_' });
  }

  private hidden: readonly string[] = ['__'];

  /**
   * Topics starting with one of `prefixes` (the gateway's internal state, Kafka's `__` topics) are
   * counted under the label `_internal`, never by name. Default: `__`.
   */
  hideTopics(prefixes: readonly string[]): void {
    this.hidden = [...prefixes];
  }

  /** A bounded topic label; internal topics are `_internal`. */
  topic(topic: string): string {
    if (this.hidden.some((p) => topic.startsWith(p))) return '_internal';
    if (this.topics.has(topic)) return topic;
    if (this.topics.size < MAX_TOPIC_LABELS) {
      this.topics.add(topic);
      return topic;
    }
    return '_other';
  }

  /** Prometheus text exposition. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The counters a MetricsSample is computed from, summed over every label. */
export interface MetricsTotals {
  readonly at: number;
  readonly produced: number;
  readonly delivered: number;
  readonly slowConsumerCuts: number;
  /** Cumulative delivery-latency bucket counts, in DELIVERY_LATENCY_BUCKETS order, then +Inf. */
  readonly latencyBuckets: readonly number[];
}

/** One interval of the live metrics, as the operator console charts it. */
export interface MetricsSample {
  /** Unix ms the sample was taken. */
  readonly at: number;
  /** Length of the interval the rates cover (ms). */
  readonly intervalMs: number;
  /** Records produced (acknowledged by the backend) per second, every protocol. */
  readonly producedPerSec: number;
  /** Records delivered to subscribers per second, every protocol. */
  readonly deliveredPerSec: number;
  /** 99th percentile of the interval's delivery latency (ms, bucket upper bound); null with no delivery. */
  readonly deliveryP99Ms: number | null;
  /** Subscriptions cut off as slow consumers within the interval. */
  readonly slowConsumerCuts: number;
  /** Since the gateway started. */
  readonly totals: { readonly produced: number; readonly delivered: number; readonly slowConsumerCuts: number };
  /** Open connections by protocol. */
  readonly connections: Readonly<Record<string, number>>;
  /** Active broadcast subscriptions. */
  readonly subscriptions: number;
}

/** Sums a metric's values over its labels (histograms: the `_bucket` series by `le`). */
async function totalsOf(metrics: Metrics): Promise<MetricsTotals> {
  const sum = (values: readonly { value: number }[]) => values.reduce((n, v) => n + v.value, 0);
  const [inn, out, slow, latency] = await Promise.all([metrics.recordsIn.get(), metrics.recordsOut.get(), metrics.slowConsumers.get(), metrics.deliveryLatency.get()]);
  const buckets = new Map<string, number>();
  for (const v of latency.values) {
    if (v.metricName !== 'streamgate_delivery_latency_seconds_bucket') continue;
    const le = String(v.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + v.value);
  }
  return {
    at: Date.now(),
    produced: sum(inn.values),
    delivered: sum(out.values),
    slowConsumerCuts: sum(slow.values),
    latencyBuckets: [...DELIVERY_LATENCY_BUCKETS.map((b) => buckets.get(String(b)) ?? 0), buckets.get('+Inf') ?? 0],
  };
}

/**
 * The q-quantile of the observations between two cumulative bucket snapshots, as the upper bound
 * of the bucket it falls in (ms); the last finite bound when it falls in +Inf; null without observations.
 */
export function bucketQuantileMs(before: readonly number[], after: readonly number[], q: number): number | null {
  const counts = after.map((n, i) => n - (before[i] ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < DELIVERY_LATENCY_BUCKETS.length; i++) {
    if (counts[i]! >= rank) return DELIVERY_LATENCY_BUCKETS[i]! * 1000;
  }
  return DELIVERY_LATENCY_BUCKETS[DELIVERY_LATENCY_BUCKETS.length - 1]! * 1000;
}

/**
 * Periodic samples of one metrics registry: each `sample()` covers the time since the previous
 * one (since creation for the first). One sampler per watcher; each costs O(label sets) per sample.
 */
export class MetricsSampler {
  private previous: Promise<MetricsTotals>;

  constructor(
    private readonly metrics: Metrics,
    private readonly gauges: () => { connections: Record<string, number>; subscriptions: number },
  ) {
    this.previous = totalsOf(metrics);
  }

  /** The interval since the last sample. */
  async sample(): Promise<MetricsSample> {
    const before = await this.previous;
    const next = totalsOf(this.metrics);
    this.previous = next;
    const now = await next;
    const intervalMs = Math.max(1, now.at - before.at);
    const perSec = (a: number, b: number) => Math.max(0, ((b - a) * 1000) / intervalMs);
    const gauges = this.gauges();
    return {
      at: now.at,
      intervalMs,
      producedPerSec: perSec(before.produced, now.produced),
      deliveredPerSec: perSec(before.delivered, now.delivered),
      deliveryP99Ms: bucketQuantileMs(before.latencyBuckets, now.latencyBuckets, 0.99),
      slowConsumerCuts: Math.max(0, now.slowConsumerCuts - before.slowConsumerCuts),
      totals: { produced: now.produced, delivered: now.delivered, slowConsumerCuts: now.slowConsumerCuts },
      connections: gauges.connections,
      subscriptions: gauges.subscriptions,
    };
  }
}
