/**
 * @kata-cc/shim: containerd shim v2 (io.containerd.kata-cc.v2).
 */
export {};
