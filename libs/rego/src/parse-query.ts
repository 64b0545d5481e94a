/** Queries given to Policy.evaluate: a body of literals (`data.p.allow`, `x := 1; x > 0`). */
import type { Literal } from './ast.js';
import { ExprParser } from './parse-collections.js';

/** Parses a query such as `data.policy.allow` or `x := 1; y = x + 1`. */
export function parseQuery(query: string): Literal[] {
  const p = new QueryParser(query, '<query>');
  return p.parseAll();
}

class QueryParser extends ExprParser {
  parseAll(): Literal[] {
    this.toks.splice(this.toks.length - 1, 0, { ...this.toks[this.toks.length - 1]!, kind: 'punct', text: '\u0000end' });
    const lits = this.parseBody('\u0000end');
    return lits;
  }
}
