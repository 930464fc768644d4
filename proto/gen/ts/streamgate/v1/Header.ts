// Original file: proto/streamgate/v1/streamgate.proto


/**
 * One record header. Wire-identical to the entry of the `map<string, bytes> headers` these
 * fields were before (key = 1, value = 2), so a client built from the map form still decodes
 * and sends them (a map keeps one value per name: the last one of a repeated name).
 */
export interface Header {
  'key'?: (string);
  'value'?: (Buffer | Uint8Array | string);
}

/**
 * One record header. Wire-identical to the entry of the `map<string, bytes> headers` these
 * fields were before (key = 1, value = 2), so a client built from the map form still decodes
 * and sends them (a map keeps one value per name: the last one of a repeated name).
 */
export interface Header__Output {
  'key': (string);
  'value': (Buffer);
}
