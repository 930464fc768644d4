/**
 * The Confluent v3 API subset (kafka-rest `api/v3/openapi.yaml`): clusters, topics (create and
 * delete with the admin grant), partitions, topic configs, consumer groups with their consumers
 * and lags, and records (produce, streaming produce in records-v3.ts). Bodies carry kafka-rest's
 * `kind`, `metadata.self` (absolute, from `rest.advertisedUrl` or the accepting socket — never
 * the client's Host header), `metadata.resource_name` (`crn:///kafka=…`) and `related` links;
 * lists are `{kind: "…List", metadata: {self, next: null}, data: […]}`. Each handler decodes,
 * calls the core, encodes; errors go through errors.ts toV3HttpError.
 */
import type { ClusterInfo, PartitionReplicas, TopicConfigEntry } from '../../gateway/backends/port.js';
import type { GroupMemberView, GroupView, PartitionLag } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import type { TopicInfo } from '../../gateway/record.js';
import { MEDIA, parseJsonBody, requireJsonBody } from './codec.js';
import { RestError } from './errors.js';
import { NO_CONTENT, SEG, headerValue, v2Reply, type Reply, type Request, type RouteDeps, type RouteTable } from './http.js';
import { defineV3RecordRoutes } from './records-v3.js';
import * as V3 from './schemas-v3.js';

/** A v3 reply: JSON (`application/json`, as kafka-rest's v3 resources), int64 fields as numbers. */
export function v3Reply(status: number, body: unknown): Reply {
  return v2Reply(status, body, MEDIA.native);
}

/** How one request names things: the base URL, the cluster, and the link and CRN builders. */
export class V3Names {
  constructor(
    readonly base: string,
    readonly clusterId: string,
  ) {}

  /** An absolute URL under this cluster (`rest` is already percent-encoded). */
  url(rest = ''): string {
    return `${this.base}/v3/clusters/${encodeURIComponent(this.clusterId)}${rest}`;
  }
  /** A kafka-rest CRN: `crn:///kafka=<cluster>/<type>=<id>/…`. */
  crn(...parts: readonly (readonly [string, string | number])[]): string {
    return `crn:///kafka=${this.clusterId}${parts.map(([k, v]) => `/${k}=${v}`).join('')}`;
  }
  topic(t: string): string {
    return this.url(`/topics/${encodeURIComponent(t)}`);
  }
  group(g: string): string {
    return this.url(`/consumer-groups/${encodeURIComponent(g)}`);
  }
}

/** `{kind, metadata: {self, next: null}, data}`: a v3 list (never paged). */
export function v3List(kind: string, self: string, data: unknown[]): Record<string, unknown> {
  return { kind, metadata: { self, next: null }, data };
}

const rel = (related: string) => ({ related });

/** Adds the v3 routes to the table. */
export function defineV3Routes(routes: RouteTable, deps: RouteDeps): void {
  const g = deps.gateway;
  const C = `/v3/clusters/${SEG}`;

  /** The cluster the path names, or 404/404 as kafka-rest's "Cluster … cannot be found". */
  const names = async (r: Request): Promise<{ n: V3Names; cluster: ClusterInfo }> => {
    const cluster = await g.describeCluster(r.ctx);
    if (r.params[0] !== cluster.clusterId) throw new RestError('NOT_FOUND', `Cluster ${r.params[0]!.slice(0, 200)} cannot be found.`);
    return { n: new V3Names(deps.advertisedBase(r.req), cluster.clusterId), cluster };
  };

  // Clusters ---------------------------------------------------------------------------------
  routes.add('GET', '/v3/clusters', async (r) => {
    const cluster = await g.describeCluster(r.ctx);
    const n = new V3Names(deps.advertisedBase(r.req), cluster.clusterId);
    return v3Reply(200, v3List('KafkaClusterList', `${n.base}/v3/clusters`, [clusterData(n, cluster)]));
  });
  routes.add('GET', C, async (r) => {
    const { n, cluster } = await names(r);
    return v3Reply(200, clusterData(n, cluster));
  });

  // Topics -----------------------------------------------------------------------------------
  routes.add('GET', `${C}/topics`, async (r) => {
    const { n } = await names(r);
    const topics = await g.listTopics(r.ctx);
    return v3Reply(200, v3List('KafkaTopicList', n.url('/topics'), topics.map((t) => topicData(n, t))));
  });
  routes.add('POST', `${C}/topics`, async (r) => {
    const { n } = await names(r);
    const body = V3.CreateTopicRequest.safeParse(await jsonBody(r));
    if (!body.success) throw invalid(body.error.issues[0]!);
    const configs: Record<string, string> = {};
    for (const c of body.data.configs ?? []) configs[c.name as string] = c.value as string;
    const info = await g.createTopic(r.ctx, body.data.topic_name, {
      ...(body.data.partitions_count == null ? {} : { partitions: body.data.partitions_count }),
      ...(body.data.replication_factor == null ? {} : { replicationFactor: body.data.replication_factor }),
      configs,
    });
    return v3Reply(201, topicData(n, info));
  });
  routes.add('GET', `${C}/topics/${SEG}`, async (r) => {
    const { n } = await names(r);
    return v3Reply(200, topicData(n, await g.describeTopic(r.ctx, r.params[1]!)));
  });
  routes.add('DELETE', `${C}/topics/${SEG}`, async (r) => {
    await names(r);
    await g.deleteTopic(r.ctx, r.params[1]!);
    return NO_CONTENT;
  });

  // Partitions -------------------------------------------------------------------------------
  routes.add('GET', `${C}/topics/${SEG}/partitions`, async (r) => {
    const { n } = await names(r);
    const topic = r.params[1]!;
    const partitions = await g.describePartitions(r.ctx, topic);
    return v3Reply(200, v3List('KafkaPartitionList', `${n.topic(topic)}/partitions`, partitions.map((p) => partitionData(n, topic, p))));
  });
  routes.add('GET', `${C}/topics/${SEG}/partitions/${SEG}`, async (r) => {
    const { n } = await names(r);
    const topic = r.params[1]!;
    const id = pathPartition(r.params[2]!);
    const p = (await g.describePartitions(r.ctx, topic)).find((x) => x.partition === id);
    if (p === undefined) throw new GatewayError('PARTITION_NOT_FOUND', `This server does not host this topic-partition.`);
    return v3Reply(200, partitionData(n, topic, p));
  });

  // Topic configs ----------------------------------------------------------------------------
  routes.add('GET', `${C}/topics/${SEG}/configs`, async (r) => {
    const { n } = await names(r);
    const topic = r.params[1]!;
    const configs = await g.topicConfigs(r.ctx, topic);
    return v3Reply(200, v3List('KafkaTopicConfigList', `${n.topic(topic)}/configs`, configs.map((c) => configData(n, topic, c))));
  });
  routes.add('GET', `${C}/topics/${SEG}/configs/${SEG}`, async (r) => {
    const { n } = await names(r);
    const topic = r.params[1]!;
    const name = r.params[2]!;
    const c = (await g.topicConfigs(r.ctx, topic)).find((x) => x.name === name);
    if (c === undefined) throw new RestError('NOT_FOUND', `Config ${name.slice(0, 200)} cannot be found for topic ${topic}.`);
    return v3Reply(200, configData(n, topic, c));
  });

  // Consumer groups --------------------------------------------------------------------------
  const G = `${C}/consumer-groups/${SEG}`;
  routes.add('GET', `${C}/consumer-groups`, async (r) => {
    const { n } = await names(r);
    const groups = await g.listGroups(r.ctx);
    return v3Reply(200, v3List('KafkaConsumerGroupList', n.url('/consumer-groups'), groups.map((x) => groupData(n, x))));
  });
  routes.add('GET', G, async (r) => {
    const { n } = await names(r);
    return v3Reply(200, groupData(n, await g.describeGroup(r.ctx, r.params[1]!)));
  });
  routes.add('GET', `${G}/consumers`, async (r) => {
    const { n } = await names(r);
    const group = await g.describeGroup(r.ctx, r.params[1]!);
    return v3Reply(200, v3List('KafkaConsumerList', `${n.group(group.group)}/consumers`, group.members.map((m) => consumerData(n, group.group, m))));
  });
  routes.add('GET', `${G}/consumers/${SEG}`, async (r) => {
    const { n } = await names(r);
    const group = await g.describeGroup(r.ctx, r.params[1]!);
    const m = group.members.find((x) => x.memberId === r.params[2]);
    if (m === undefined) throw new RestError('NOT_FOUND', `Consumer ${r.params[2]!.slice(0, 200)} cannot be found in consumer group ${group.group}.`);
    return v3Reply(200, consumerData(n, group.group, m));
  });
  routes.add('GET', `${G}/lags`, async (r) => {
    const { n } = await names(r);
    const group = r.params[1]!;
    const lags = await g.groupLags(r.ctx, group);
    return v3Reply(200, v3List('KafkaConsumerLagList', `${n.group(group)}/lags`, lags.map((l) => lagData(n, group, l))));
  });
  routes.add('GET', `${G}/lags/${SEG}/partitions/${SEG}`, async (r) => {
    const { n } = await names(r);
    const group = r.params[1]!;
    const topic = r.params[2]!;
    const partition = pathPartition(r.params[3]!);
    const lag = (await g.groupLags(r.ctx, group)).find((l) => l.topic === topic && l.partition === partition);
    if (lag === undefined) throw new RestError('NOT_FOUND', `Consumer lag for ${topic}/${partition} cannot be found in consumer group ${group}.`);
    return v3Reply(200, lagData(n, group, lag));
  });
  routes.add('GET', `${G}/lag-summary`, async (r) => {
    const { n } = await names(r);
    const group = r.params[1]!;
    return v3Reply(200, lagSummary(n, group, await g.groupLags(r.ctx, group)));
  });

  defineV3RecordRoutes(routes, deps, names);
}

/** The body as JSON, requiring a JSON Content-Type when there is one (an absent body is null). */
async function jsonBody(r: Request): Promise<unknown> {
  const body = await r.body();
  requireJsonBody(headerValue(r.req, 'content-type'), body.length);
  return parseJsonBody(body) ?? null;
}

/** A body the schema refuses: 400/40002 as kafka-rest's constraint violations on v3 entities. */
function invalid(issue: { path: PropertyKey[]; message: string }): GatewayError {
  const at = issue.path.map(String).join('.');
  return new GatewayError('INVALID_ARGUMENT', at === '' ? `Invalid request body: ${issue.message}.` : `Invalid ${at}: ${issue.message}.`);
}

/** A path partition as JAX-RS converts an `int`: not an int32 (or negative) is no resource, 404/404. */
function pathPartition(raw: string): number {
  const p = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(p <= 2 ** 31 - 1)) throw new RestError('NOT_FOUND', 'HTTP 404 Not Found');
  return p;
}

function clusterData(n: V3Names, cluster: ClusterInfo): Record<string, unknown> {
  return {
    kind: 'KafkaCluster',
    metadata: { self: n.url(), resource_name: n.crn() },
    cluster_id: cluster.clusterId,
    controller: cluster.controller === null ? null : rel(n.url(`/brokers/${cluster.controller}`)),
    acls: rel(n.url('/acls')),
    brokers: rel(n.url('/brokers')),
    broker_configs: rel(n.url('/broker-configs')),
    consumer_groups: rel(n.url('/consumer-groups')),
    topics: rel(n.url('/topics')),
    partition_reassignments: rel(n.url('/topics/-/partitions/-/reassignment')),
  };
}

function topicData(n: V3Names, t: TopicInfo): Record<string, unknown> {
  const self = n.topic(t.name);
  return {
    kind: 'KafkaTopic',
    metadata: { self, resource_name: n.crn(['topic', t.name]) },
    cluster_id: n.clusterId,
    topic_name: t.name,
    // Internal topics are never listed nor readable through the gateway.
    is_internal: false,
    replication_factor: t.replicationFactor ?? 1,
    partitions_count: t.partitions,
    partitions: rel(`${self}/partitions`),
    configs: rel(`${self}/configs`),
    partition_reassignments: rel(`${self}/partitions/-/reassignment`),
  };
}

function partitionData(n: V3Names, topic: string, p: PartitionReplicas): Record<string, unknown> {
  const self = `${n.topic(topic)}/partitions/${p.partition}`;
  return {
    kind: 'KafkaPartition',
    metadata: { self, resource_name: n.crn(['topic', topic], ['partition', p.partition]) },
    cluster_id: n.clusterId,
    topic_name: topic,
    partition_id: p.partition,
    leader: p.leader === null ? null : rel(`${self}/replicas/${p.leader}`),
    replicas: rel(`${self}/replicas`),
    reassignment: rel(`${self}/reassignment`),
  };
}

function configData(n: V3Names, topic: string, c: TopicConfigEntry): Record<string, unknown> {
  return {
    kind: 'KafkaTopicConfig',
    metadata: { self: `${n.topic(topic)}/configs/${encodeURIComponent(c.name)}`, resource_name: n.crn(['topic', topic], ['config', c.name]) },
    cluster_id: n.clusterId,
    topic_name: topic,
    name: c.name,
    value: c.value,
    is_default: c.isDefault,
    is_read_only: c.isReadOnly,
    is_sensitive: c.isSensitive,
    source: c.source,
    synonyms: [],
  };
}

function groupData(n: V3Names, group: GroupView): Record<string, unknown> {
  const self = n.group(group.group);
  return {
    kind: 'KafkaConsumerGroup',
    metadata: { self, resource_name: n.crn(['consumer-group', group.group]) },
    cluster_id: n.clusterId,
    consumer_group_id: group.group,
    is_simple: group.simple,
    partition_assignor: group.assignor,
    state: group.state,
    // The gateway does not look up group coordinators (kafka-rest links the coordinator broker).
    coordinator: null,
    consumers: rel(`${self}/consumers`),
    lag_summary: rel(`${self}/lag-summary`),
  };
}

function consumerData(n: V3Names, group: string, m: GroupMemberView): Record<string, unknown> {
  const self = `${n.group(group)}/consumers/${encodeURIComponent(m.memberId)}`;
  return {
    kind: 'KafkaConsumer',
    metadata: { self, resource_name: n.crn(['consumer-group', group], ['consumer', m.memberId]) },
    cluster_id: n.clusterId,
    consumer_group_id: group,
    consumer_id: m.memberId,
    instance_id: m.instanceId,
    client_id: m.clientId,
    assignments: rel(`${self}/assignments`),
  };
}

function lagData(n: V3Names, group: string, l: PartitionLag): Record<string, unknown> {
  return {
    kind: 'KafkaConsumerLag',
    metadata: {
      self: `${n.group(group)}/lags/${encodeURIComponent(l.topic)}/partitions/${l.partition}`,
      resource_name: n.crn(['consumer-group', group], ['lag', l.topic], ['partition', l.partition]),
    },
    cluster_id: n.clusterId,
    consumer_group_id: group,
    topic_name: l.topic,
    partition_id: l.partition,
    current_offset: l.committed,
    log_end_offset: l.latest,
    lag: l.lag,
    consumer_id: l.member?.memberId ?? '',
    instance_id: l.member?.instanceId ?? null,
    client_id: l.member?.clientId ?? '',
  };
}

/** kafka-rest's lag summary; a group without commits has no maximum (empty names, zeros, no links). */
function lagSummary(n: V3Names, group: string, lags: readonly PartitionLag[]): Record<string, unknown> {
  let max: PartitionLag | undefined;
  let total = 0n;
  for (const l of lags) {
    total += l.lag;
    if (max === undefined || l.lag > max.lag) max = l;
  }
  return {
    kind: 'KafkaConsumerGroupLagSummary',
    metadata: { self: `${n.group(group)}/lag-summary`, resource_name: `${n.crn(['consumer-group', group])}/lag-summary` },
    cluster_id: n.clusterId,
    consumer_group_id: group,
    max_lag_consumer_id: max?.member?.memberId ?? '',
    max_lag_instance_id: max?.member?.instanceId ?? null,
    max_lag_client_id: max?.member?.clientId ?? '',
    max_lag_topic_name: max?.topic ?? '',
    max_lag_partition_id: max?.partition ?? 0,
    max_lag: max?.lag ?? 0n,
    total_lag: total,
    max_lag_consumer: max?.member == null ? null : rel(`${n.group(group)}/consumers/${encodeURIComponent(max.member.memberId)}`),
    max_lag_partition: max === undefined ? null : rel(`${n.topic(max.topic)}/partitions/${max.partition}`),
  };
}

