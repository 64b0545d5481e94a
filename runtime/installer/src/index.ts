/**
 * @kata-cc/installer: installs the kata-cc runtime on a Kubernetes node (artifacts under
 * /opt/kata-cc, containerd runtime handlers kata-cc[-tdx|-snp|-se|-dev], node labels) and
 * reverses every change on uninstall. Run by the installer DaemonSet in deploy/runtime/.
 */
export { INSTALLER_ERROR_CODES, installerError } from './errors.js';
export type { InstallerErrorCode } from './errors.js';
export { checkHostPath, makeLayout, onRoot, prefixPaths } from './layout.js';
export type { Layout } from './layout.js';
export { HANDLER_NAMES, POD_ANNOTATIONS, RUNTIME_TYPE, configFileOf, handlerSpecs, parseHandlerList } from './handlers.js';
export type { HandlerName, HandlerSpec, HandlerTee } from './handlers.js';
export { hasManaged, planEdit, stripManaged } from './containerd/edit.js';
export type { EditInput, EditMode, EditPlan } from './containerd/edit.js';
export { renderHandlers, renderProxyPlugin, runtimesTable } from './containerd/render.js';
export type { ConfigSchema } from './containerd/render.js';
export { detectContainerdMajor, parseContainerdMajor, waitForSocket } from './containerd/wait.js';
export { LABEL_CC_READY, LABEL_RUNTIME, LABEL_TEE, noLabeler } from './labeler/labeler.js';
export type { NodeLabeler } from './labeler/labeler.js';
export { KubeApiLabeler, inClusterOptions } from './labeler/kube-api.js';
export type { KubeApiOptions } from './labeler/kube-api.js';
export { NODE_TEES, configFileForTee, detectNodeTee } from './tee.js';
export type { NodeTee } from './tee.js';
export { loadState, statePaths } from './state.js';
export type { InstallState } from './state.js';
export { GUEST_PULL_MODES, DEFAULT_SNAPSHOTTER_ROOT, DEFAULT_SNAPSHOTTER_SOCKET, DEFAULT_UNIT_DIR, SNAPSHOTTER_NAME, SNAPSHOTTER_UNIT, unitText } from './snapshotter.js';
export type { GuestPull, SnapshotterState } from './snapshotter.js';
export { install } from './installer.js';
export type { InstallOptions, InstallResult, InstallerDeps } from './installer.js';
export { uninstall } from './uninstall.js';
export type { UninstallOptions, UninstallResult } from './uninstall.js';
