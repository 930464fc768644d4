// Original file: proto/streamgate/v1/streamgate.proto


/**
 * A record is delivered if its key matches any of the subscription's filters (no filter = all
 * records). A record with a null key matches no filter.
 */
export interface KeyFilter {
  /**
   * The key equals this string (UTF-8).
   */
  'exact'?: (string);
  /**
   * The key starts with this string.
   */
  'prefix'?: (string);
  /**
   * The key, read as an MQTT topic name, matches this MQTT topic filter (`+`, `#`).
   */
  'mqtt'?: (string);
  'kind'?: "exact"|"prefix"|"mqtt";
}

/**
 * A record is delivered if its key matches any of the subscription's filters (no filter = all
 * records). A record with a null key matches no filter.
 */
export interface KeyFilter__Output {
  /**
   * The key equals this string (UTF-8).
   */
  'exact'?: (string);
  /**
   * The key starts with this string.
   */
  'prefix'?: (string);
  /**
   * The key, read as an MQTT topic name, matches this MQTT topic filter (`+`, `#`).
   */
  'mqtt'?: (string);
  'kind'?: "exact"|"prefix"|"mqtt";
}
