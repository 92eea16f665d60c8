/**
 * YAML experiment configs: parsed with the `yaml` package (YAML 1.2 core schema, so `no` and `on`
 * stay strings and `1e-4` is a number), into the same plain value a JSON config gives, and a way back
 * from a key path (`schedules[1].tMult`) to the line it is on, for the error messages.
 */
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { ExperimentConfigError } from './config';

export interface ParsedYaml {
  value: unknown;
  /** The 1-based line of the key path's node, or of its nearest ancestor that exists. */
  lineOf(keyPath: string): number | undefined;
}

/** `schedules[1].tMult` -> ['schedules', 1, 'tMult']. */
export function keyPathSegments(keyPath: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const part of keyPath.match(/[^.[\]]+|\[\d+\]/g) ?? [])
    out.push(/^\[\d+\]$/.test(part) ? Number(part.slice(1, -1)) : part);
  return out;
}

export function parseYamlConfig(text: string, file?: string): ParsedYaml {
  const lineCounter = new LineCounter();
  // Aliases are capped, so a "billion laughs" file is refused instead of expanded.
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const line = problem.linePos?.[0]?.line;
    // prettyErrors adds " at line L, column C:" and a code excerpt; the line is given once, up front.
    const message = problem.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    const column = problem.linePos?.[0]?.col;
    throw new ExperimentConfigError('', `not valid YAML: ${message}${column ? ` (column ${column})` : ''}`, file, line);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ExperimentConfigError('', `not valid YAML: ${(err as Error).message}`, file);
  }
  const lineAt = (node: Node | null | undefined): number | undefined =>
    node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
  return {
    value,
    lineOf(keyPath: string): number | undefined {
      const segments = keyPathSegments(keyPath);
      // The key itself where it is there (its line is the key's); else the deepest parent that is.
      for (let n = segments.length; n > 0; n--) {
        const parent = n === 1 ? doc.contents : doc.getIn(segments.slice(0, n - 1), true);
        const key = segments[n - 1]!;
        if (isMap(parent)) {
          const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
          if (pair) return lineAt(pair.key as Node) ?? lineAt(pair.value as Node);
        } else if (isSeq(parent) && typeof key === 'number' && parent.items[key]) {
          return lineAt(parent.items[key] as Node);
        }
      }
      return lineAt(doc.contents as Node);
    },
  };
}
