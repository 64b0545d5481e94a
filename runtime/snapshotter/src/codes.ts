/** Every error code of this package (kept in sync with the README table by a test). */
export const SNAPSHOTTER_ERROR_CODES = [
  'SNAP_EXISTS',
  'SNAP_TARGET_EXISTS',
  'SNAP_NOT_FOUND',
  'SNAP_PARENT_NOT_COMMITTED',
  'SNAP_COMMITTED',
  'SNAP_NOT_ACTIVE',
  'SNAP_HAS_CHILDREN',
  'SNAP_UPDATE_FIELD',
  'SNAP_INVALID_KEY',
  'SNAP_LABEL_TOO_LONG',
  'SNAP_METADATA_CORRUPT',
] as const;
