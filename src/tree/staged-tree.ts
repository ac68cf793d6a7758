/**
 * The guest's files as the steps see them: reads come from the staged change when there is one,
 * else from the guest; writes are recorded, never performed. A change is recorded only when the
 * bytes differ, so a step that produces what is already there leaves no trace (re-runs are no-ops).
 * `commitChanges` applies the record; the dry-run only reports it.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { UserError } from '../errors.js';
import { resolveInGuest } from './confine.js';

/** No file the steps edit (fstab, grub.cfg, inittab...) is anywhere near this size. */
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

export type FileChange =
  | { kind: 'write'; path: string; before: string | undefined; after: string; step: string; reason: string }
  | {
      kind: 'symlink';
      path: string;
      before: string | undefined;
      target: string;
      step: string;
      reason: string;
    }
  | { kind: 'remove'; path: string; before: string; step: string; reason: string };

/** Reading a guest's files (with the staged changes applied): all a helper that only looks needs. */
export interface GuestFiles {
  readonly root: string;
  hostPath(path: string): string;
  entryHostPath(path: string): string;
  read(path: string): string | undefined;
  isFile(path: string): boolean;
  exists(path: string): boolean;
  readLink(path: string): string | undefined;
  list(dir: string): string[];
  canonical(path: string): string;
}

/** A step's view of the tree: its changes are recorded under its own id, which it never spells. */
export interface StepTree extends GuestFiles {
  write(path: string, after: string, reason: string): void;
  rewrite(path: string, edit: (text: string) => string, reason: string): boolean;
  symlink(path: string, target: string, reason: string): void;
  remove(path: string, reason: string): void;
}

export class StagedTree implements GuestFiles {
  private readonly changes = new Map<string, FileChange>();

  constructor(readonly root: string) {}

  /** Host path of a guest path, confined to the guest root. */
  hostPath(path: string): string {
    return resolveInGuest(this.root, path);
  }

  /** Host path of the directory entry itself: the parent is resolved, the last component is not followed. */
  entryHostPath(path: string): string {
    return `${resolveInGuest(this.root, parentOf(path))}/${baseOf(path)}`;
  }

  private describeOnDisk(
    path: string,
  ): { type: 'file' | 'symlink' | 'dir' | 'other'; text?: string } | undefined {
    const host = this.entryHostPath(path);
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(host);
    } catch {
      return undefined;
    }
    if (stat.isSymbolicLink()) return { type: 'symlink', text: readlinkSync(host) };
    if (stat.isDirectory()) return { type: 'dir' };
    if (stat.isFile()) return { type: 'file' };
    return { type: 'other' };
  }

  /** Text of a regular file (following symlinks inside the guest), or undefined when absent. */
  read(path: string): string | undefined {
    const staged = this.changes.get(path) ?? this.changes.get(this.canonical(path));
    if (staged) return staged.kind === 'write' ? staged.after : undefined;
    let host: string;
    let size: number;
    try {
      host = this.hostPath(path);
      const stat = lstatSync(host);
      if (!stat.isFile()) return undefined;
      size = stat.size;
    } catch {
      return undefined;
    }
    // A hostile or damaged image could hold a configuration file of gigabytes: refuse, do not read it.
    if (size > MAX_CONFIG_BYTES) {
      throw new UserError(
        `the guest's ${path} is ${size} bytes, too large for the file it should be; check the image`,
      );
    }
    return readFileSync(host, 'utf8');
  }

  /** Whether `path` is a regular file on disk (symlinks followed inside the guest): never a fifo or device. */
  isFile(path: string): boolean {
    try {
      return lstatSync(this.hostPath(path)).isFile();
    } catch {
      return false;
    }
  }

  exists(path: string): boolean {
    const staged = this.changes.get(path);
    if (staged) return staged.kind !== 'remove';
    return this.describeOnDisk(path) !== undefined;
  }

  /** Target of a symlink itself (not followed), or undefined when `path` is not a symlink. */
  readLink(path: string): string | undefined {
    const staged = this.changes.get(path);
    if (staged) return staged.kind === 'symlink' ? staged.target : undefined;
    const onDisk = this.describeOnDisk(path);
    return onDisk?.type === 'symlink' ? onDisk.text : undefined;
  }

  /** Entries of a guest directory, with staged creations and removals applied. */
  list(dir: string): string[] {
    const names = new Set<string>();
    try {
      for (const name of readdirSync(this.hostPath(dir))) names.add(name);
    } catch {
      // absent directory: only staged entries
    }
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    for (const [path, change] of this.changes) {
      if (!path.startsWith(prefix) || path.slice(prefix.length).includes('/')) continue;
      if (change.kind === 'remove') names.delete(path.slice(prefix.length));
      else names.add(path.slice(prefix.length));
    }
    return [...names].sort();
  }

  /** The guest path `path` really names: symlinks on the way followed, inside the guest. */
  canonical(path: string): string {
    return this.hostPath(path).slice(this.root.length) || '/';
  }

  /** Stages new content for a file; a symlink on the way is followed (inside the guest). */
  write(requested: string, after: string, step: string, reason: string): void {
    const path = this.changes.has(requested) ? requested : this.canonical(requested);
    const original = this.original(path);
    if (original.type === 'file' && original.text === after) {
      this.changes.delete(path);
      return;
    }
    this.changes.set(path, { kind: 'write', path, before: original.text, after, step, reason });
  }

  /** Stages `edit` of a file's current text, if the file exists; returns whether it does. */
  rewrite(path: string, edit: (text: string) => string, step: string, reason: string): boolean {
    const text = this.read(path);
    if (text === undefined) return false;
    this.write(path, edit(text), step, reason);
    return true;
  }

  symlink(path: string, target: string, step: string, reason: string): void {
    const original = this.original(path);
    if (original.type === 'symlink' && original.text === target) {
      this.changes.delete(path);
      return;
    }
    this.changes.set(path, { kind: 'symlink', path, before: original.text, target, step, reason });
  }

  remove(path: string, step: string, reason: string): void {
    const original = this.original(path);
    if (original.type === 'absent') {
      this.changes.delete(path);
      return;
    }
    const before = original.type === 'symlink' ? `-> ${original.text}` : (original.text ?? '');
    this.changes.set(path, { kind: 'remove', path, before, step, reason });
  }

  /** What is on disk now, before any staged change. */
  private original(path: string): { type: 'absent' | 'file' | 'symlink' | 'other'; text?: string } {
    const onDisk = this.describeOnDisk(path);
    if (!onDisk) return { type: 'absent' };
    if (onDisk.type === 'symlink') return { type: 'symlink', text: onDisk.text };
    if (onDisk.type === 'file') {
      return { type: 'file', text: readFileSync(this.hostPath(path), 'utf8') };
    }
    return { type: 'other' };
  }

  /** The view one step plans through: reads as the tree, writes stamped with the step's id. */
  forStep(step: string): StepTree {
    return {
      root: this.root,
      hostPath: (path) => this.hostPath(path),
      entryHostPath: (path) => this.entryHostPath(path),
      read: (path) => this.read(path),
      isFile: (path) => this.isFile(path),
      exists: (path) => this.exists(path),
      readLink: (path) => this.readLink(path),
      list: (dir) => this.list(dir),
      canonical: (path) => this.canonical(path),
      write: (path, after, reason) => this.write(path, after, step, reason),
      rewrite: (path, edit, reason) => this.rewrite(path, edit, step, reason),
      symlink: (path, target, reason) => this.symlink(path, target, step, reason),
      remove: (path, reason) => this.remove(path, step, reason),
    };
  }

  /** Every recorded change, in the order of their paths. */
  allChanges(): FileChange[] {
    return [...this.changes.values()].sort((a, b) => a.path.localeCompare(b.path));
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
