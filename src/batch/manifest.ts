/**
 * The batch manifest (YAML): defaults at the top, then one entry per image. It is validated whole
 * before any conversion starts, and every error points at its line.
 */

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { errorMessage, UserError } from '../errors.js';
import type { BootMode, Isolation } from '../pipeline/types.js';
import { parseSshSource } from '../remote/ssh-source.js';

export interface ImageJob {
  /** The image's path; for an entry with a source, that source (ssh://...): what names the entry. */
  image: string;
  /** A guest to import from its Xen host first (ssh://[USER@]HOST/NAME); its copies go to output-dir. */
  source?: string;
  /** import's settings for a source entry. */
  sshConfig?: string;
  shutdown?: boolean;
  bandwidth?: string;
  /** Define (and start) the converted guest in libvirt. */
  define?: boolean;
  start?: boolean;
  connect?: string;
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
  'ssh-config': 'string',
  shutdown: 'boolean',
  bandwidth: 'string',
  define: 'boolean',
  start: 'boolean',
  connect: 'string',
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
    if ((key === 'image' || key === 'source') && allowImage) {
      if (!isScalar(value) || typeof value.value !== 'string')
        fail(
          file,
          lines,
          value ?? (pair.key as Node),
          `${key}: expected ${key === 'image' ? 'a path' : 'ssh://[USER@]HOST/NAME'}`,
        );
      settings[key] = value.value;
      continue;
    }
    const type = KEYS[key];
    if (!type)
      fail(
        file,
        lines,
        pair.key as Node,
        `unknown setting '${key}' (known: ${[...(allowImage ? ['image', 'source'] : []), ...Object.keys(KEYS)].join(', ')})`,
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
    if (typeof entry.image === 'string' && typeof entry.source === 'string')
      fail(file, lines, node, 'an entry has image: PATH or source: ssh://..., not both');
    if (typeof entry.source === 'string') {
      try {
        parseSshSource(entry.source);
      } catch (error) {
        fail(file, lines, node, errorMessage(error));
      }
    } else if (typeof entry.image !== 'string')
      fail(file, lines, node, 'this entry has no image: PATH (or source: ssh://HOST/NAME)');
    const s = { ...defaults, ...entry } as Settings;
    const source = entry.source as string | undefined;
    const image = source ?? path(entry.image as string);
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
    if (source) {
      // An imported guest is converted where its copy arrives: in output-dir.
      if (typeof s['output-dir'] !== 'string')
        fail(file, lines, node, 'a source entry needs output-dir: DIR (where its disks are copied to)');
      output = path(s['output-dir'] as string);
    } else if (mode === 'copy') {
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
      ...(source
        ? {
            source,
            sshConfig: typeof s['ssh-config'] === 'string' ? path(s['ssh-config'] as string) : undefined,
            shutdown: s.shutdown === true,
            bandwidth: s.bandwidth as string | undefined,
          }
        : {}),
      define: s.define === true,
      start: s.start === true,
      connect: s.connect as string | undefined,
      mode: source ? 'in-place' : mode,
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
