// Original file: proto/streamgate/v1/streamgate.proto

/**
 * The log boundary used for partitions a position does not name.
 */
export const Boundary = {
  /**
   * Treated as BOUNDARY_LATEST.
   */
  BOUNDARY_UNSPECIFIED: 'BOUNDARY_UNSPECIFIED',
  BOUNDARY_EARLIEST: 'BOUNDARY_EARLIEST',
  BOUNDARY_LATEST: 'BOUNDARY_LATEST',
} as const;

/**
 * The log boundary used for partitions a position does not name.
 */
export type Boundary =
  /**
   * Treated as BOUNDARY_LATEST.
   */
  | 'BOUNDARY_UNSPECIFIED'
  | 0
  | 'BOUNDARY_EARLIEST'
  | 1
  | 'BOUNDARY_LATEST'
  | 2

/**
 * The log boundary used for partitions a position does not name.
 */
export type Boundary__Output = typeof Boundary[keyof typeof Boundary]
