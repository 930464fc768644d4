/**
 * Prometheus metrics (prom-client), one registry per core. Label sets are bounded: protocols
 * are a handful, and topic labels are capped (topics past the cap are counted as `_other`) so a
 * client creating many topics cannot blow up the time-series count.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Distinct topic label values kept; the rest are `_other`. */
const MAX_TOPIC_LABELS = 200;

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
