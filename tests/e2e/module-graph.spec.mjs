// The dashboard's module graph (ws-gateway/web/): no cycle of static imports, so a module's
// dependencies are evaluated before it and each module can be read (and reused) with what it
// imports alone. No browser: it reads every .js file under the web root, finds its static
// `import … from './x.js'`, `import './x.js'` and `export … from './x.js'` (import lists may span
// lines), resolves the relative ones and reports each cycle as a path of files. It also checks
// that every relative import names a file and that every module is reached from app.js (which
// also shows that the imports were found at all).
//
// Run: cd tests/e2e && node --test module-graph.spec.mjs   (part of `npm test`)
// Another tree: AUTOSYNC_E2E_WEB_ROOT=/path/to/ws-gateway/web node --test module-graph.spec.mjs

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const kWebRoot = path.resolve(process.env.AUTOSYNC_E2E_WEB_ROOT || path.join(here, '../../ws-gateway/web'));
const kEntry = 'app.js';

// A static import or re-export at the start of a line (where the dashboard's modules put them;
// comment lines start with // or *): `import x, { a, b as c } from '…'`, `import * as ns from '…'`,
// `import '…'`, `export { a } from '…'`, `export * from '…'`. The specifier is group 2.
const kImportRe = /^[ \t]*(?:import|export)\s+(?:[\w$*{}\s,]+?\s*from\s*)?(['"])([^'"\n]+)\1/gm;

// The specifiers of `source`'s static imports and re-exports, in order.
export function importSpecifiers(source) {
  return [...source.matchAll(kImportRe)].map((m) => m[2]);
}

// Every .js file under `root`, as paths relative to it with forward slashes, sorted.
function jsFiles(root, dir = '') {
  const files = [];
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...jsFiles(root, rel));
    else if (entry.isFile() && entry.name.endsWith('.js')) files.push(rel);
  }
  return files.sort();
}

// {graph: Map(file -> [files it imports]), missing: ["file: './x.js' (no such file)"]}; only
// relative specifiers ('./', '../') are followed.
export function moduleGraph(root) {
  const graph = new Map();
  const missing = [];
  for (const file of jsFiles(root)) {
    const deps = [];
    for (const spec of importSpecifiers(fs.readFileSync(path.join(root, file), 'utf8'))) {
      if (!spec.startsWith('./') && !spec.startsWith('../')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      if (!fs.existsSync(path.join(root, target))) missing.push(`${file}: '${spec}' (no such file)`);
      else if (!deps.includes(target)) deps.push(target);
    }
    graph.set(file, deps);
  }
  return { graph, missing };
}

// The cycles a depth-first search meets, each as a path that ends where it starts
// (["a.js", "b.js", "a.js"]); none when the graph is acyclic.
export function findCycles(graph) {
  const kNew = 0;
  const kOpen = 1;
  const kDone = 2;
  const mark = new Map([...graph.keys()].map((f) => [f, kNew]));
  const stack = [];
  const cycles = [];
  const visit = (file) => {
    mark.set(file, kOpen);
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (mark.get(dep) === kOpen) cycles.push([...stack.slice(stack.indexOf(dep)), dep]);
      else if (mark.get(dep) === kNew) visit(dep);
    }
    stack.pop();
    mark.set(file, kDone);
  };
  for (const file of graph.keys()) {
    if (mark.get(file) === kNew) visit(file);
  }
  return cycles;
}

// The modules that reach themselves through their imports (every module of every cycle, also
// those of a cycle the search did not report separately).
export function modulesOnCycles(graph) {
  return [...graph.keys()].filter((start) => {
    const seen = new Set();
    const todo = [...graph.get(start)];
    while (todo.length) {
      const file = todo.pop();
      if (file === start) return true;
      if (seen.has(file)) continue;
      seen.add(file);
      todo.push(...(graph.get(file) ?? []));
    }
    return false;
  });
}

describe('dashboard module graph', () => {
  test('the import parser reads single-line, multi-line and bare imports and re-exports', () => {
    const source = [
      '// import { no } from \'./comment.js\';',
      'import { a } from \'./a.js\';',
      'import {',
      '  b1,',
      '  b2 as c,',
      '} from "./b.js";',
      'import * as ns from \'../c.js\';',
      'import d, { e } from \'./d.js\';',
      'import \'./side-effect.js\';',
      'export { f } from \'./f.js\';',
      'export * from \'./g.js\';',
      'export function h() { return \'./not-an-import.js\'; }',
      'const x = 1; // import y from \'./y.js\'',
    ].join('\n');
    assert.deepEqual(importSpecifiers(source),
      ['./a.js', './b.js', '../c.js', './d.js', './side-effect.js', './f.js', './g.js']);
  });

  test('finds a cycle with its path', () => {
    const graph = new Map([['a.js', ['b.js']], ['b.js', ['c.js']], ['c.js', ['a.js']], ['d.js', ['a.js']]]);
    assert.deepEqual(findCycles(graph), [['a.js', 'b.js', 'c.js', 'a.js']]);
    assert.deepEqual(modulesOnCycles(graph), ['a.js', 'b.js', 'c.js']);
    const acyclic = new Map([['a.js', ['b.js', 'c.js']], ['b.js', ['c.js']], ['c.js', []]]);
    assert.deepEqual(findCycles(acyclic), []);
    assert.deepEqual(modulesOnCycles(acyclic), []);
  });

  test(`every relative import under ${kWebRoot} names a file, and every module is reached from ${kEntry}`, () => {
    const { graph, missing } = moduleGraph(kWebRoot);
    assert.ok(graph.has(kEntry), `${kEntry} not found under ${kWebRoot}`);
    assert.deepEqual(missing, [], 'imports of files that do not exist');
    const reached = new Set([kEntry]);
    const todo = [kEntry];
    while (todo.length) {
      for (const dep of graph.get(todo.pop())) {
        if (!reached.has(dep)) {
          reached.add(dep);
          todo.push(dep);
        }
      }
    }
    const unreached = [...graph.keys()].filter((f) => !reached.has(f) && !f.startsWith('vendor/'));
    assert.deepEqual(unreached, [], `modules ${kEntry} does not reach (dead, or imports the check did not see)`);
  });

  test('no import cycle', () => {
    const { graph } = moduleGraph(kWebRoot);
    const cycles = findCycles(graph);
    assert.ok(cycles.length === 0,
      `import cycles under ${kWebRoot} (README.md there, "Files", says how the modules depend on each other):\n`
      + cycles.map((c) => `  ${c.join(' -> ')}`).join('\n')
      + `\nmodules on a cycle: ${modulesOnCycles(graph).join(', ')}`);
  });
});
