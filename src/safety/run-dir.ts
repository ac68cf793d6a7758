/** Where xen2kvm keeps state that must outlive a killed process: /run/xen2kvm (XEN2KVM_RUN_DIR). */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export function runDir(): string {
  const dir = process.env.XEN2KVM_RUN_DIR ?? '/run/xen2kvm';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** A stable file name for an image's state, whatever path it was named by. */
export function imageKey(image: string): string {
  return createHash('sha256').update(resolve(image)).digest('hex').slice(0, 16);
}

export function statePath(image: string, suffix: string): string {
  return join(runDir(), `${imageKey(image)}.${suffix}`);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
