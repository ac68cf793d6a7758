/**
 * What a run has mounted and attached, written to /run/xen2kvm as it happens, so that after a
 * SIGKILL (or a crash) the next run, or `xen2kvm cleanup`, can find and release it (recovery.ts).
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { statePath } from './run-dir.js';

export type RecoveryRecord =
  | { kind: 'mount'; path: string }
  | { kind: 'loop'; backing: string }
  | { kind: 'kpartx'; disk: string }
  | { kind: 'vg'; name: string; pvs: string[] }
  | { kind: 'nbd'; device: string; image: string }
  | { kind: 'dir'; path: string };

export interface RecoveryFile {
  pid: number;
  image: string;
  records: RecoveryRecord[];
}

/** The live record of one run: rewritten (small, atomic enough) on every change. */
export class RecoveryLog {
  private readonly path: string;
  private readonly records: RecoveryRecord[] = [];

  constructor(private readonly image: string) {
    this.path = statePath(image, 'state.json');
  }

  add(record: RecoveryRecord): void {
    this.records.push(record);
    this.flush();
  }

  remove(record: RecoveryRecord): void {
    const index = this.records.lastIndexOf(record);
    if (index !== -1) this.records.splice(index, 1);
    this.flush();
  }

  private flush(): void {
    if (this.records.length === 0) {
      rmSync(this.path, { force: true });
      return;
    }
    const content: RecoveryFile = { pid: process.pid, image: resolve(this.image), records: this.records };
    writeFileSync(`${this.path}.new`, JSON.stringify(content));
    // rename is atomic: a reader sees the old list or the new one.
    renameSync(`${this.path}.new`, this.path);
  }
}
