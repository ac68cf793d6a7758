/**
 * The shape of the code, checked: src/ never imports steps/ (the program's entries in bin/ hand the
 * steps in), steps/ never imports bin/, and no chain of imports comes back to where it started.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The project files a module imports (type-only imports included), as paths from the root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)].map((match) =>
    relative(ROOT, resolve(ROOT, dirname(file), (match[1] as string).replace(/\.js$/, '.ts'))),
  );
}

const files = ['bin', 'src', 'steps'].flatMap(sources);
const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe('module layout', () => {
  it('src/ imports nothing from steps/ or bin/, steps/ nothing from bin/', () => {
    const wrong = [...graph].flatMap(([file, deps]) =>
      deps
        .filter(
          (dep) =>
            (file.startsWith('src/') && (dep.startsWith('steps/') || dep.startsWith('bin/'))) ||
            (file.startsWith('steps/') && dep.startsWith('bin/')),
        )
        .map((dep) => `${file} -> ${dep}`),
    );
    expect(wrong).toEqual([]);
    // The check sees imports at all: the entry imports both sides.
    expect(graph.get('bin/xen2kvm.ts')).toEqual(['src/cli.ts', 'steps/index.ts']);
  });

  it('has no import cycle', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const dep of graph.get(file) ?? []) visit(dep, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
