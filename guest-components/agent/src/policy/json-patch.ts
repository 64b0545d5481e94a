/** RFC 6902 subset (add, replace, remove) used by genpolicy's `ops` to update policy state. */
export interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

function unescape(seg: string): string {
  return seg.replaceAll('~1', '/').replaceAll('~0', '~');
}

export function applyJsonPatch(doc: Record<string, unknown>, ops: JsonPatchOp[]): Record<string, unknown> {
  const out = structuredClone(doc);
  for (const op of ops) {
    const segs = op.path.split('/').slice(1).map(unescape);
    // SECURITY: paths may carry request fields (genpolicy-style "/pstate/containers/<id>"); walking
    // "__proto__" would write into Object.prototype for the whole agent, so such keys are refused.
    if (segs.some((s) => s === '__proto__' || s === 'constructor' || s === 'prototype')) {
      throw new Error(`policy state patch path ${JSON.stringify(op.path.slice(0, 200))} has a forbidden key`);
    }
    const last = segs.pop();
    if (last === undefined) continue;
    let cur: Record<string, unknown> | unknown[] = out;
    for (const s of segs) {
      const next: unknown = Array.isArray(cur) ? cur[Number(s)] : cur[s];
      if (typeof next !== 'object' || next === null) {
        const created: Record<string, unknown> = {};
        if (Array.isArray(cur)) cur[Number(s)] = created;
        else cur[s] = created;
        cur = created;
      } else cur = next as Record<string, unknown>;
    }
    if (Array.isArray(cur)) {
      const i = last === '-' ? cur.length : Number(last);
      if (op.op === 'remove') cur.splice(i, 1);
      else if (op.op === 'add') cur.splice(i, 0, op.value);
      else cur[i] = op.value;
    } else if (op.op === 'remove') delete cur[last];
    else cur[last] = op.value;
  }
  return out;
}
