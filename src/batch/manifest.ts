/**
 * The batch manifest (YAML): defaults at the top, then one entry per image. It is validated whole
 * before any conversion starts, and every error points at its line.
 */

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { UserError } from '../errors.js';
import type { BootMode, Isolation } from '../pipeline/types.js';

export interface ImageJob {
  image: string;
  mode: 'copy' | 'in-place';
  output?: string;
  outputFormat: 'raw' | 'qcow2';
  xenConfig?: string;
  bridges: Record<string, string>;
  network?: string;
  memory?: number;
  vcpus?: number;
  verify: boolean;
  /** KVM kernel packages to install (absolute paths). */
  kernelPackages: string[];
  kernel?: string;
  /** A partitionless guest's other disks: Xen device -> file (absolute). */
  disks: Record<string, string>;
  boot?: BootMode;
  /** Where the guest's commands run (--isolation). */
  isolation?: Isolation;
  /** Manifest line of the entry, for messages. */
  line: number;
}

const KEYS: Record<string, 'string' | 'number' | 'boolean' | 'map' | 'list'> = {
  mode: 'string',
  'output-dir': 'string',
  output: 'string',
  'output-format': 'string',
  'xen-config': 'string',
  bridges: 'map',
  network: 'string',
  memory: 'number',
  vcpus: 'number',
  verify: 'boolean',
  'kernel-packages': 'list',
  kernel: 'string',
  disks: 'map',
  boot: 'string',
  isolation: 'string',
};

type Settings = Record<string, unknown>;

function fail(file: string, lines: LineCounter, node: Node | null | undefined, message: string): never {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = lines.linePos(offset);
  throw new UserError(`${file}:${line}:${col}: ${message}`, 2);
}

function readSettings(file: string, lines: LineCounter, map: YAMLMap, allowImage: boolean): Settings {
  const settings: Settings = {};
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as Node | null;
    if (key === 'image' && allowImage) {
      if (!isScalar(value) || typeof value.value !== 'string')
        fail(file, lines, value ?? (pair.key as Node), 'image: expected a path');
      settings.image = value.value;
      continue;
    }
    const type = KEYS[key];
    if (!type)
      fail(
        file,
        lines,
        pair.key as Node,
        `unknown setting '${key}' (known: ${[...(allowImage ? ['image'] : []), ...Object.keys(KEYS)].join(', ')})`,
      );
    if (type === 'list') {
      if (!isSeq(value) || !value.items.every((v) => isScalar(v) && typeof v.value === 'string'))
        fail(file, lines, value ?? (pair.key as Node), `${key}: expected a list of paths`);
      settings[key] = value.items.map((v) => String((v as { value: unknown }).value));
      continue;
    }
    if (type === 'map') {
      if (!isMap(value))
        fail(file, lines, value ?? (pair.key as Node), `${key}: expected a mapping like {xenbr0: br0}`);
      settings[key] = Object.fromEntries(
        value.items.map((p) => {
          if (!isScalar(p.key) || !isScalar(p.value))
            fail(file, lines, p.key as Node, `${key}: expected NAME: BRIDGE`);
          return [String(p.key.value), String(p.value.value)];
        }),
      );
      continue;
    }
    if (!isScalar(value) || typeof value.value !== type)
      fail(file, lines, value ?? (pair.key as Node), `${key}: expected a ${type}`);
    settings[key] = value.value;
  }
  return settings;
}

/** The manifest's text; a manifest that cannot be read is a usage error (exit 2), in one line. */
function readManifest(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : (code ?? String(error));
    throw new UserError(`manifest ${file} cannot be read (${why}); give the path of a YAML manifest`, 2);
  }
}

export function parseManifest(file: string, text = readManifest(file)): ImageJob[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const firstError = doc.errors[0];
  if (firstError) {
    const { line, col } = lines.linePos(firstError.pos[0]);
    throw new UserError(`${file}:${line}:${col}: not valid YAML (${firstError.message.split('\n')[0]})`, 2);
  }
  const root = doc.contents;
  if (!isMap(root)) fail(file, lines, root, 'expected a mapping with "images:" (and optionally "defaults:")');
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key !== 'defaults' && key !== 'images')
      fail(file, lines, pair.key as Node, `unknown section '${key}' (expected defaults, images)`);
  }
  const defaultsNode = root.get('defaults', true) as Node | undefined;
  if (defaultsNode !== undefined && !isMap(defaultsNode))
    fail(file, lines, defaultsNode, 'defaults: expected a mapping');
  const defaults = defaultsNode ? readSettings(file, lines, defaultsNode as YAMLMap, false) : {};
  const imagesNode = root.get('images', true) as Node | undefined;
  if (!isSeq(imagesNode) || imagesNode.items.length === 0)
    fail(file, lines, imagesNode ?? root, 'images: expected a list of entries, each with "image: PATH"');
  const base = dirname(resolve(file));
  const path = (p: string) => (isAbsolute(p) ? p : join(base, p));
  const seen = new Map<string, number>();
  const outputs = new Map<string, number>();
  return imagesNode.items.map((item) => {
    const node = item as Node;
    const line = lines.linePos(node.range?.[0] ?? 0).line;
    const entry =
      isScalar(node) && typeof node.value === 'string'
        ? { image: node.value }
        : isMap(node)
          ? readSettings(file, lines, node, true)
          : fail(file, lines, node, 'expected "image: PATH" or a path');
    if (typeof entry.image !== 'string') fail(file, lines, node, 'this entry has no image: PATH');
    const s = { ...defaults, ...entry } as Settings;
    const image = path(entry.image as string);
    if (seen.has(image))
      fail(
        file,
        lines,
        node,
        `${entry.image} is listed twice (lines ${seen.get(image)} and ${line}): one conversion per image`,
      );
    seen.set(image, line);
    const mode = (s.mode ?? 'copy') as string;
    if (mode !== 'copy' && mode !== 'in-place')
      fail(file, lines, node, `mode: expected copy or in-place, not ${mode}`);
    if (s.boot !== undefined && s.boot !== 'guest' && s.boot !== 'direct')
      fail(file, lines, node, `boot: expected guest or direct, not ${String(s.boot)}`);
    if (s.isolation !== undefined && s.isolation !== 'sandbox' && s.isolation !== 'vm')
      fail(file, lines, node, `isolation: expected sandbox or vm, not ${String(s.isolation)}`);
    const outputFormat = (s['output-format'] ?? 'raw') as string;
    if (outputFormat !== 'raw' && outputFormat !== 'qcow2')
      fail(file, lines, node, `output-format: expected raw or qcow2, not ${outputFormat}`);
    let output: string | undefined;
    if (mode === 'copy') {
      const stem =
        (entry.image as string)
          .split('/')
          .pop()
          ?.replace(/\.[^.]+$/, '') ?? 'guest';
      output =
        typeof s.output === 'string'
          ? path(s.output)
          : typeof s['output-dir'] === 'string'
            ? join(path(s['output-dir'] as string), `${stem}.${outputFormat}`)
            : undefined;
      if (!output)
        fail(file, lines, node, 'copy mode needs output: PATH or output-dir: DIR (or mode: in-place)');
      if (outputs.has(output))
        fail(file, lines, node, `${output} is also the output of line ${outputs.get(output)}`);
      outputs.set(output, line);
    }
    return {
      image,
      mode,
      output,
      outputFormat,
      xenConfig: typeof s['xen-config'] === 'string' ? path(s['xen-config'] as string) : undefined,
      bridges: {
        ...((defaults.bridges as Record<string, string>) ?? {}),
        ...((entry.bridges as Record<string, string>) ?? {}),
      },
      network: s.network as string | undefined,
      memory: s.memory as number | undefined,
      vcpus: s.vcpus as number | undefined,
      verify: s.verify === true,
      kernelPackages: ((s['kernel-packages'] as string[] | undefined) ?? []).map(path),
      kernel: s.kernel as string | undefined,
      disks: Object.fromEntries(
        Object.entries({
          ...((defaults.disks as Record<string, string>) ?? {}),
          ...((entry.disks as Record<string, string>) ?? {}),
        }).map(([xen, file]) => [xen, path(file)]),
      ),
      boot: s.boot as BootMode | undefined,
      isolation: s.isolation as Isolation | undefined,
      line,
    } as ImageJob;
  });
}
