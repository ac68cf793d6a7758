/**
 * One xen2kvm per image, even when many start at the same instant: each contender is a process of
 * its own (the lock is between processes), all released together, and exactly one gets the lock;
 * the others are told who holds it, never that they found a stale lock and took it over.
 */
import { linkSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const LOCK_MODULE = fileURLToPath(new URL('../../dist/src/safety/lock.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'image-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Says it is ready, waits for `go`, takes the lock on `image`, holds it, and says how it went. */
const CONTENDER = `
import { existsSync, writeFileSync } from 'node:fs';
const [modulePath, image, go, ready] = process.argv.slice(1);
const { acquireLock } = await import(modulePath);
writeFileSync(ready, '');
while (!existsSync(go)) await new Promise((r) => setTimeout(r, 1));
try {
  const lock = acquireLock(image);
  console.log(lock.staleFrom === undefined ? 'got' : 'got-stale');
  await new Promise((r) => setTimeout(r, 2000));
  lock.release();
} catch (error) {
  console.log(String(error.message));
}
`;

describe('the image lock', () => {
  it('goes to exactly one of twelve processes started together, by any name of the image', async () => {
    for (let round = 0; round < 3; round++) {
      const image = join(dir, `guest-${round}.raw`);
      writeFileSync(image, 'image');
      const names = [image, join(dir, `sym-${round}.raw`), join(dir, `hard-${round}.raw`)];
      symlinkSync(image, names[1] as string);
      linkSync(image, names[2] as string);
      const go = join(dir, `go-${round}`);
      const contenders = Array.from({ length: 12 }, (_, i) =>
        execa(
          'node',
          [
            '--input-type=module',
            '-e',
            CONTENDER,
            LOCK_MODULE,
            names[i % 3] as string,
            go,
            `${go}-ready-${i}`,
          ],
          { reject: false },
        ),
      );
      // Every contender is up and polling before the start is given.
      while (readdirSync(dir).filter((f) => f.startsWith(`go-${round}-ready-`)).length < 12)
        await new Promise((r) => setTimeout(r, 20));
      writeFileSync(go, '');
      const outcomes = (await Promise.all(contenders)).map((run) => run.stdout.trim() || run.stderr);
      expect(outcomes.filter((o) => o === 'got')).toHaveLength(1);
      expect(outcomes.filter((o) => o !== 'got')).toHaveLength(11);
      for (const refused of outcomes.filter((o) => o !== 'got'))
        expect(refused).toMatch(/is being converted by another xen2kvm \(pid \d+, since /);
    }
  });
});
