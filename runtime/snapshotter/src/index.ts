/**
 * @kata-cc/snapshotter: a containerd remote snapshotter (proxy plugin) for guest pull. Image
 * layers are never fetched or unpacked on the host; containers get an empty rootfs mount.
 */
export { LABEL_GUEST_PULL, LABEL_SNAPSHOT_REF, SnapshotStore } from './store.js';
export type { SnapshotInfo, SnapshotKind, SnapshotMount } from './store.js';
export { SNAPSHOTS_SERVICE, serveSnapshotter, snapshotsService } from './service.js';
export { SNAPSHOTTER_ERROR_CODES } from './codes.js';
