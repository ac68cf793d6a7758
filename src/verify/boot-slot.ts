/**
 * TCG boot slots: how many software-emulated boot checks run on this host at once.
 *
 * Under TCG a guest is CPU-bound from its first instruction to its login prompt, and its own clock
 * keeps running while it waits for the host: a systemd guest starved of CPU gives up on its disks
 * after 90 s ("Timed out waiting for device") and drops to emergency mode, which says nothing about
 * the conversion. So each TCG boot takes a slot - one per two CPUs - and waits while every slot
 * is busy. The slots are host-wide (/run/lock), not per run directory:
 * the CPUs they share are the host's. A slot whose holder is gone is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../safety/run-dir.js';

const HOST_SLOT_DIR = '/run/lock/xen2kvm';

/**
 * One vCPU: measured under TCG on a 2-core host with one competing busy process, a 2-vCPU guest
 * timed out waiting for its disks where a 1-vCPU guest booted (its vCPU threads contend with each
 * other and with the host, and a preempted vCPU holding a guest lock stalls the other).
 */
export const BOOT_VCPUS = 1;

/** One slot per two CPUs: a TCG boot takes one, and the other is left for the rest of the host. */
export function tcgSlotCount(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2));
}

export interface BootSlot {
  release(): void;
}

function slotPath(dir: string, index: number): string {
  return join(dir, `tcg-boot-${index}.lock`);
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes slot `index` for `pid`, or returns the pid holding it. */
function tryTake(dir: string, index: number, pid: number): BootSlot | number {
  const path = slotPath(dir, index);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, String(pid));
      closeSync(fd);
      return { release: () => rmSync(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = holderOf(path);
      if (holder !== undefined && processAlive(holder)) return holder;
      rmSync(path, { force: true });
    }
  }
  return holderOf(path) ?? -1;
}

export interface SlotWait {
  /** Called once, when every slot is busy and the caller starts to wait. */
  onWait?: (holders: number[]) => void;
  /** Stops the wait early (an interrupted run); the slot is then not taken. */
  cancelled?: () => boolean;
  pollMs?: number;
  pid?: number;
  /** Where the slots live; the host-wide default is right for everything but a unit test. */
  dir?: string;
  slots?: number;
}

/** The first free slot, waiting for one when all are busy; undefined if cancelled while waiting. */
export async function takeBootSlot(wait: SlotWait = {}): Promise<BootSlot | undefined> {
  const dir = wait.dir ?? HOST_SLOT_DIR;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const pid = wait.pid ?? process.pid;
  let told = false;
  for (;;) {
    const holders: number[] = [];
    for (let index = 0; index < (wait.slots ?? tcgSlotCount()); index++) {
      const taken = tryTake(dir, index, pid);
      if (typeof taken !== 'number') return taken;
      holders.push(taken);
    }
    if (wait.cancelled?.()) return undefined;
    if (!told) {
      told = true;
      wait.onWait?.(holders);
    }
    await new Promise((done) => setTimeout(done, wait.pollMs ?? 2000));
  }
}

/** Every slot, for a process that will load all CPUs itself (a stress test, a benchmark). */
export async function takeAllBootSlots(wait: SlotWait = {}): Promise<BootSlot> {
  const slots: BootSlot[] = [];
  for (let index = 0; index < (wait.slots ?? tcgSlotCount()); index++) {
    const slot = await takeBootSlot(wait);
    if (slot) slots.push(slot);
  }
  return {
    release: () => {
      for (const slot of slots) slot.release();
    },
  };
}
