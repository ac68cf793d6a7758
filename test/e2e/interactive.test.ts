/**
 * The operator at a terminal: a real pseudo-terminal (tmux) running `xen2kvm migrate IMAGE` without
 * --yes. The plan is shown, the question asked; "no" leaves the image byte-identical, "yes" converts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workingCopy } from '../../fixtures/images/fixtures.js';
import { CLI, runCli } from '../helpers/cli.js';
import { contentDigest, leftovers, NOTHING_LEFT } from '../helpers/host-state.js';
import { keys, startTerminal, stopTerminal, waitFor } from '../helpers/terminal.js';

let dir: string;
let image: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'e2e-interactive-'));
  image = await workingCopy('debian12-xen-pv', join(dir, 'guest.raw'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `migrate IMAGE` in a real terminal and answers: `first` keys at the first question, then
 * `perFile[i]` keys at the i-th file's question (file-by-file review).
 */
async function migrateAnswering(
  first: string[],
  perFile: string[][] = [],
): Promise<{ screen: string; exitCode: number }> {
  const session = await startTerminal(`node ${CLI} migrate ${image}; echo "EXIT=$?"; sleep 120`);
  try {
    await waitFor(session, /Apply these 7 change\(s\) and 3 command\(s\)/);
    await keys(session, ...first);
    for (const [index, answer] of perFile.entries()) {
      await waitFor(session, new RegExp(`\\(${index + 1}/7\\) `));
      await keys(session, ...answer);
    }
    const text = await waitFor(session, /EXIT=\d+/);
    return { screen: text, exitCode: Number(/EXIT=(\d+)/.exec(text)?.[1]) };
  } finally {
    await stopTerminal(session);
  }
}

describe('interactive migrate on a terminal', () => {
  it('shows the plan, and "abort" leaves the image untouched', async () => {
    const before = await contentDigest(image);
    const run = await migrateAnswering(['Down', 'Down', 'Enter']);
    expect(run.screen).toContain('+++ b/etc/fstab');
    expect(run.screen).toMatch(/aborted; .*guest\.raw was not modified/);
    expect(run.exitCode).toBe(1);
    expect(await contentDigest(image)).toBe(before);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('"apply all" converts it', async () => {
    const run = await migrateAnswering(['Enter']);
    expect(run.screen).toMatch(/converted .*guest\.raw in place: 7 file\(s\) changed, 3 command\(s\) run/);
    expect(run.exitCode).toBe(0);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('file by file: a skipped file stays as it was, the others change', async () => {
    const fresh = await workingCopy('debian12-xen-pv', join(dir, 'review.raw'));
    image = fresh;
    // Order of the files: device.map, grub.cfg, default/grub, fstab, initramfs modules, the two getty links.
    const accept = ['Enter'];
    const skip = ['Down', 'Enter'];
    const run = await migrateAnswering(
      ['Down', 'Enter'],
      [accept, accept, accept, skip, accept, accept, accept],
    );
    expect(run.exitCode).toBe(0);
    expect(run.screen).toMatch(/converted .*review\.raw in place: 6 file\(s\) changed/);
    const left = await runCli(['migrate', '--dry-run', '--diff-format', 'stat', fresh]);
    expect(left.stdout, left.stdout).toContain(' 1 file(s) changed');
    expect(left.stdout).toMatch(/^ \/etc\/fstab \| \+2 -2$/m);
  });

  it('asks for a KVM bridge for each Xen bridge without one, and uses the answer', async () => {
    const guest = await workingCopy('debian12-xen-pv', join(dir, 'bridged.raw'));
    const config = join(import.meta.dirname, '..', '..', 'fixtures', 'xen-configs', 'xl-pv-pygrub.cfg');
    const session = await startTerminal(
      `node ${CLI} migrate --xen-config ${config} ${guest}; echo "EXIT=$?"; sleep 120`,
    );
    try {
      await waitFor(session, /KVM bridge for Xen bridge xenbr0/);
      await keys(session, 'ovs:br-int', 'Enter');
      await waitFor(session, /Apply these 7 change\(s\)/);
      await keys(session, 'Enter');
      const text = await waitFor(session, /EXIT=\d+/);
      expect(Number(/EXIT=(\d+)/.exec(text)?.[1])).toBe(0);
    } finally {
      await stopTerminal(session);
    }
    const xml = readFileSync(join(dir, 'mail01.xml'), 'utf8');
    expect(xml).toMatch(/<source bridge="br-int"\/>\s*<virtualport type="openvswitch"\/>/);
  });
});

describe('on a terminal with neither --in-place nor --output', () => {
  // The question offers the image itself, in place; an image that cannot be converted in place is
  // refused up front, instead of being converted in a working copy that is then thrown away.
  async function refusedOnTerminal(input: string): Promise<string> {
    const session = await startTerminal(`node ${CLI} migrate ${input}; echo "EXIT=$?"; sleep 120`);
    try {
      const text = await waitFor(session, /EXIT=\d+/);
      expect(Number(/EXIT=(\d+)/.exec(text)?.[1])).toBe(2);
      expect(text).not.toContain('Apply these');
      return text;
    } finally {
      await stopTerminal(session);
    }
  }

  it('a qcow2 image is refused before anything is attached, naming --output', async () => {
    const qcow2 = join(dir, 'guest.qcow2');
    await execa('qemu-img', ['convert', '-O', 'qcow2', image, qcow2]);
    const before = await contentDigest(qcow2);
    const screen = await refusedOnTerminal(qcow2);
    expect(screen).toContain(
      `xen2kvm: ${qcow2} is a qcow2 image: in-place conversion works on raw images; use --output NEW (raw, or --output-format qcow2)`,
    );
    expect(await contentDigest(qcow2)).toBe(before);
    expect(existsSync(`${qcow2}.xen2kvm-journal`)).toBe(false);
    expect(await leftovers(qcow2)).toEqual(NOTHING_LEFT);
    rmSync(qcow2);
  });

  it('a bare filesystem (a partitionless Xen disk) is refused, naming --output', async () => {
    const bare = await workingCopy('debian12-xen-fsimage', join(dir, 'root.img'));
    const before = await contentDigest(bare);
    const screen = await refusedOnTerminal(bare);
    expect(screen).toContain(
      `xen2kvm: ${bare} holds a bare ext4 filesystem (a partitionless Xen disk) and becomes a new whole disk: use --output NEW.raw`,
    );
    expect(await contentDigest(bare)).toBe(before);
    expect(await leftovers(bare)).toEqual(NOTHING_LEFT);
    rmSync(bare);
  });
});
