import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { explainFailure } from '../../src/verify/boot-check.js';
import { takeAllBootSlots, takeBootSlot } from '../../src/verify/boot-slot.js';

describe('TCG boot slots', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'slots-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives each boot its own slot, makes the next one wait, and lets it in once one is released', async () => {
    const first = await takeBootSlot({ dir, slots: 2 });
    const second = await takeBootSlot({ dir, slots: 2 });
    expect(existsSync(join(dir, 'tcg-boot-0.lock'))).toBe(true);
    expect(existsSync(join(dir, 'tcg-boot-1.lock'))).toBe(true);
    const waitedFor: number[][] = [];
    const third = takeBootSlot({ dir, slots: 2, pollMs: 20, onWait: (holders) => waitedFor.push(holders) });
    await new Promise((done) => setTimeout(done, 100));
    expect(waitedFor).toEqual([[process.pid, process.pid]]);
    second?.release();
    const taken = await third;
    expect(taken).toBeDefined();
    expect(existsSync(join(dir, 'tcg-boot-1.lock'))).toBe(true);
    first?.release();
    taken?.release();
    expect(existsSync(join(dir, 'tcg-boot-0.lock'))).toBe(false);
    expect(existsSync(join(dir, 'tcg-boot-1.lock'))).toBe(false);
  });

  it('takes over a slot whose holder is gone, and a cancelled wait takes nothing', async () => {
    writeFileSync(join(dir, 'tcg-boot-0.lock'), '2147483646');
    const slot = await takeBootSlot({ dir, slots: 1 });
    expect(slot).toBeDefined();
    const cancelled = await takeBootSlot({ dir, slots: 1, pollMs: 10, cancelled: () => true });
    expect(cancelled).toBeUndefined();
    slot?.release();
  });

  it('a process loading every CPU takes every slot', async () => {
    const all = await takeAllBootSlots({ dir, slots: 3 });
    const waited: number[][] = [];
    const next = takeBootSlot({ dir, slots: 3, pollMs: 10, onWait: (h) => waited.push(h) });
    await new Promise((done) => setTimeout(done, 50));
    expect(waited).toHaveLength(1);
    all.release();
    (await next)?.release();
  });
});

describe('a failed boot explained', () => {
  const console = [
    '\x1b[0;1;31m TIME \x1b[0m] Timed out waiting for device \x1b[0;1;39mdev-vda2.device\x1b[0m - /dev/vda2.',
    '[ TIME ] Timed out waiting for device \x1b[0;1;…ice - /dev/disk/by-label/boot.',
    '[DEPEND] Dependency failed for boot.mount - /boot.',
    'You are in emergency mode. After logging in, type "journalctl -xb" to view',
    '',
  ].join('\r\n');
  const line = 'You are in emergency mode. After logging in, type "journalctl -xb" to view';

  it('names the device systemd gave up on, and under TCG says the host may be the cause', () => {
    expect(explainFailure(console, line, 'tcg')).toBe(
      `${line} - timed out waiting for dev-vda2.device - /dev/vda2, …ice - /dev/disk/by-label/boot (under TCG a busy host can starve the guest past systemd's 90 s device timeout: rerun on a quieter host or with KVM)`,
    );
    expect(explainFailure(console, line, 'kvm')).toBe(
      `${line} - timed out waiting for dev-vda2.device - /dev/vda2, …ice - /dev/disk/by-label/boot`,
    );
  });

  it('leaves other failures as they are', () => {
    expect(explainFailure('Kernel panic - not syncing', 'Kernel panic - not syncing', 'tcg')).toBe(
      'Kernel panic - not syncing',
    );
    expect(explainFailure(`${line}\n`, line, 'tcg')).toBe(line);
  });
});
