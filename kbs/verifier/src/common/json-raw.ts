/**
 * Intel signs the exact text of the `tcbInfo` / `enclaveIdentity` member of a PCS response, so
 * the verifier must recover that member's bytes verbatim instead of re-serializing a parse.
 */

/** The raw text of top-level member `key` of the JSON object `text`, or undefined. */
export function rawJsonMember(text: string, key: string): string | undefined {
  let depth = 0;
  let i = 0;
  const n = text.length;
  let expectKey = false;
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      const end = skipString(text, i);
      if (depth === 1 && expectKey) {
        const name = JSON.parse(text.slice(i, end)) as string;
        let j = end;
        while (j < n && /\s/.test(text[j]!)) j++;
        if (text[j] === ':') {
          j++;
          while (j < n && /\s/.test(text[j]!)) j++;
          const valueEnd = skipValue(text, j);
          if (name === key) return text.slice(j, valueEnd);
          i = valueEnd;
          expectKey = false;
          continue;
        }
      }
      i = end;
      continue;
    }
    if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
    i++;
  }
  return undefined;
}

function skipString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  throw new SyntaxError('Unterminated JSON string');
}

function skipValue(text: string, start: number): number {
  const c = text[start];
  if (c === '"') return skipString(text, start);
  if (c === '{' || c === '[') {
    let depth = 0;
    let i = start;
    while (i < text.length) {
      const d = text[i]!;
      if (d === '"') {
        i = skipString(text, i);
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw new SyntaxError('Unterminated JSON value');
  }
  let i = start;
  while (i < text.length && !/[,}\]\s]/.test(text[i]!)) i++;
  return i;
}
