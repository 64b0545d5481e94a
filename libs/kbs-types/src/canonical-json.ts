import { KccError } from '@kata-cc/errors';

/**
 * RFC 8785 (JCS) canonical JSON: object keys sorted by UTF-16 code units, no whitespace,
 * strings escaped as ECMAScript `JSON.stringify` does, numbers in ECMAScript shortest form
 * (which is what RFC 8785 specifies). Rejects values JSON cannot represent.
 */
export function canonicalize(value: unknown): string {
  try {
    return write(value);
  } catch (e) {
    // Nesting deep enough to exhaust the stack (JSON.parse accepts it) is refused with the stable code.
    if (e instanceof RangeError) throw notJson('a value nested too deeply');
    throw e;
  }
}

function write(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw notJson('a non-finite number');
      // ECMAScript Number::toString is exactly the RFC 8785 number serialization; -0 -> 0.
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(write).join(',')}]`;
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write(obj[k])}`).join(',')}}`;
    }
    default:
      throw notJson(`a ${typeof value}`);
  }
}

function notJson(what: string): KccError {
  return new KccError({
    kind: 'INVALID_ARGUMENT',
    code: 'KBS_CANONICAL_JSON_INVALID',
    message: `Cannot canonicalize ${what} as JSON`,
  });
}
