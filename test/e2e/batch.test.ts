/**
 * Batch conversion as scripts run it: a manifest mixing good and bad images, two at a time, a log
 * per image, a JSON report, exit code 1 when some failed; a rerun skips what is done; `migrate A B`.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture, workingCopy } from '../../fixtures/images/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { leftovers, NOTHING_LEFT } from '../helpers/host-state.js';

let dir: string;

beforeAll(async () => {
  // Built here, under the hook's time limit, not by the first test that needs it.
  await ensureFixture('debian12-xen-pv');
  dir = mkdtempSync(join(tmpdir(), 'e2e-batch-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Report {
  status: string;
  images: {
    image: string;
    status: string;
    exitCode: number;
    changes: number | null;
    log: string;
    error: string | null;
    output: string | null;
  }[];
}

describe('batch', () => {
  it('converts the good images of a mixed manifest, reports the bad ones, and a rerun skips what is done', async () => {
    const good1 = await workingCopy('debian12-xen-pv', join(dir, 'good1.raw'));
    const good2 = await workingCopy('debian12-xen-pv', join(dir, 'good2.raw'));
    writeFileSync(join(dir, 'noise.raw'), randomBytes(4 * 1024 * 1024));
    mkdirSync(join(dir, 'kvm'));
    const manifest = join(dir, 'fleet.yaml');
    writeFileSync(
      manifest,
      `defaults:\n  output-dir: kvm\n  bridges: { xenbr0: br0 }\nimages:\n  - good1.raw\n  - image: noise.raw\n  - image: missing.raw\n  - image: good2.raw\n    mode: in-place\n`,
    );
    const run = await runCli(['batch', manifest, '--jobs', '2', '--json']);
    expect(run.exitCode).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.status).toBe('some-failed');
    expect(report.images.map((i) => [i.image, i.status])).toEqual([
      [good1, 'converted'],
      [join(dir, 'noise.raw'), 'failed'],
      [join(dir, 'missing.raw'), 'failed'],
      [good2, 'converted'],
    ]);
    expect(report.images[1]?.error).toMatch(/noise\.raw is not a disk image/);
    expect(report.images[0]).toMatchObject({
      files: expect.arrayContaining(['/etc/fstab']),
      steps: expect.objectContaining({ 'run initrd': expect.any(Number) }),
    });
    expect(report.images[2]?.error).toMatch(/missing\.raw: no such file/);
    for (const image of report.images) expect(existsSync(image.log)).toBe(true);
    expect(readFileSync(report.images[0]?.log as string, 'utf8')).toContain('Run in guest: update-initramfs');
    expect(run.stderr).toMatch(/^image +status +time +changes +log \/ error$/m);
    expect(existsSync(join(dir, 'kvm', 'good1.raw'))).toBe(true);
    expect(existsSync(`${good2}.xen2kvm-journal`)).toBe(true);
    for (const image of [good1, good2, join(dir, 'kvm', 'good1.raw')])
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);

    const again = await runCli(['batch', manifest, '--json']);
    const second = JSON.parse(again.stdout) as Report;
    expect(second.images.map((i) => i.status)).toEqual(['skipped', 'failed', 'failed', 'skipped']);

    const forced = await runCli(['batch', manifest, '--json', '--force']);
    const third = JSON.parse(forced.stdout) as Report;
    // The copy's output exists now, so a forced rerun of it is refused by migrate; the in-place one re-runs cleanly.
    expect(third.images[3]).toMatchObject({ status: 'converted', changes: 0 });
  });

  it('a manifest with a mistake is refused before anything runs, pointing at the line', async () => {
    const manifest = join(dir, 'typo.yaml');
    writeFileSync(manifest, 'images:\n  - image: a.raw\n    mode: inplace\n');
    const run = await runCli(['batch', manifest]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim()).toBe(`xen2kvm: ${manifest}:2:5: mode: expected copy or in-place, not inplace`);
    expect(existsSync(`${manifest}.logs`)).toBe(false);
  });

  it('a manifest that is missing or is a directory is refused in one line, exit 2', async () => {
    const missing = join(dir, 'nope.yaml');
    const gone = await runCli(['batch', missing]);
    expect(gone.exitCode).toBe(2);
    expect(gone.stderr.trim()).toBe(
      `xen2kvm: manifest ${missing} cannot be read (no such file); give the path of a YAML manifest`,
    );
    const folder = await runCli(['batch', dir]);
    expect(folder.exitCode).toBe(2);
    expect(folder.stderr.trim()).toBe(
      `xen2kvm: manifest ${dir} cannot be read (it is a directory); give the path of a YAML manifest`,
    );
  });

  it('migrate A B runs the images as a batch with the same options', async () => {
    const a = await workingCopy('debian12-xen-pv', join(dir, 'multi-a.raw'));
    const b = await workingCopy('debian12-xen-pv', join(dir, 'multi-b.raw'));
    const refused = await runCli(['migrate', '--yes', a, b]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr.trim()).toBe(
      'xen2kvm: several images: add --in-place, --output-dir DIR, or --dry-run',
    );
    const withDisk = await runCli(['migrate', '--dry-run', '--disk', 'xvda1=swap.img', a, b]);
    expect(withDisk.exitCode).toBe(2);
    expect(withDisk.stderr.trim()).toBe(
      "xen2kvm: several images: --disk names one guest's disks; give them per image in a batch manifest",
    );
    const run = await runCli(
      ['migrate', '--yes', '--output-dir', join(dir, 'multi-out'), '--jobs', '2', a, b],
      { cwd: dir },
    );
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('2 of 2 image(s) done, 0 failed');
    expect(existsSync(join(dir, 'multi-out', 'multi-a.raw'))).toBe(true);
    expect(existsSync(join(dir, 'multi-out', 'multi-b.raw'))).toBe(true);
    expect(existsSync(join(dir, 'xen2kvm-batch.logs'))).toBe(true);
  });
});
