/**
 * @kata-cc/testing: helpers for tests only (fixtures beside sources, temporary dirs, the
 * shared vectors and peers, tool lookup). Never a runtime dependency.
 */
export { fixturePath, repoRoot, requireTool, sharedDir, tempDir } from './paths.js';
