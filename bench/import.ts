/**
 * `npm run bench:import`: what `xen2kvm import` costs against plain ssh copies of the same disk,
 * between two network namespaces of this machine (a Xen host with its own sshd, and the operator):
 * seconds and bytes on the wire. Prints figures and writes them to docs/benchmarks-import.md. It
 * never passes or fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ensureFixture } from '../fixtures/images/fixtures.js';
import { FleetNet } from '../test/helpers/fleet-hosts.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CLI = join(root, 'dist', 'bin', 'xen2kvm.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MiB = 1024 ** 2;

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const lines: string[] = [];
const say = (line = '') => {
  process.stdout.write(`${line}\n`);
  lines.push(line);
};

interface Figures {
  seconds: number;
  wireBytes: number;
}

async function main(): Promise<void> {
  const fixture = await ensureFixture('debian12-xen-pv', (l) => process.stderr.write(`${l}\n`));
  const work = mkdtempSync('/var/tmp/x2k-bench-import-');
  const net = await FleetNet.start(join(work, 'hosts'));
  try {
    await net.host('xen', 10);
    const disk = join(work, 'xen-disk.raw');
    execFileSync('cp', ['--sparse=always', fixture, disk]);
    const config = join(work, 'bench.cfg');
    writeFileSync(config, `name = "bench"\nmemory = 512\ndisk = [ 'file:${disk},xvda,w' ]\n`);
    const ssh = `${net.inControl([]).join(' ')} ssh -F ${net.sshConfig} xen`;
    const out = join(work, 'out');
    const fresh = () => {
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
    };
    const tool = async (extra: string[]): Promise<Figures> => {
      fresh();
      const run = await execa(
        'ip',
        [
          'netns',
          'exec',
          net.control.ns,
          'node',
          CLI,
          'import',
          `ssh://xen/${config}`,
          '--ssh-config',
          net.sshConfig,
          '--output-dir',
          out,
          '--no-convert',
          '--json',
          ...extra,
        ],
        { reject: false },
      );
      if (run.exitCode !== 0) throw new Error(`import failed: ${run.stderr.slice(-500)}`);
      const copy = (JSON.parse(run.stdout) as { import: { disks: { seconds: number; wireBytes: number }[] } })
        .import.disks[0];
      return { seconds: copy?.seconds ?? 0, wireBytes: copy?.wireBytes ?? 0 };
    };
    // A shell pipeline whose wire bytes are counted on the way (wc -c on a tee'd copy).
    const floor = async (remote: string, local: string): Promise<Figures> => {
      fresh();
      const count = join(work, 'wire-count');
      const started = performance.now();
      await execa('bash', ['-c', `${ssh} ${JSON.stringify(remote)} | tee >(wc -c > ${count}) | ${local}`]);
      const seconds = (performance.now() - started) / 1000;
      await new Promise((r) => setTimeout(r, 200));
      return { seconds, wireBytes: Number(execFileSync('cat', [count]).toString().trim()) };
    };
    const kinds: Record<string, () => Promise<Figures>> = {
      'xen2kvm import (zero chunks skipped, zstd -1, SHA-256 both ends)': () => tool([]),
      'xen2kvm import --no-compress': () => tool(['--no-compress']),
      'floor: ssh dd | cp --sparse=always': () =>
        floor(`dd if=${disk} bs=1M status=none`, `cp --sparse=always /dev/stdin ${join(out, 'floor.raw')}`),
      'floor with zstd: ssh "zstd -1 < disk" | zstd -d | cp --sparse=always': () =>
        floor(
          `zstd -1 -q -c < ${disk}`,
          `zstd -d -q -c | cp --sparse=always /dev/stdin ${join(out, 'floor.raw')}`,
        ),
    };
    const results: Record<string, Figures[]> = {};
    for (let i = 0; i < RUNS; i++)
      for (const [name, run] of Object.entries(kinds))
        results[name] = [...(results[name] ?? []), await run()];

    say('# import over ssh: benchmarks');
    say();
    say(
      `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}; both ends on it (network namespaces over a veth bridge), so the sender, ssh's ciphers, zstd and the receiver share the same CPUs. Node ${process.version}.`,
    );
    say(
      `Disk: the Debian 12 Xen PV test guest, ${(statSync(disk).size / MiB).toFixed(0)} MiB, ${((statSync(disk).blocks * 512) / MiB).toFixed(0)} MiB allocated. Medians of ${RUNS} runs.`,
    );
    say();
    say('| copy | seconds | on the wire |');
    say('|---|---|---|');
    for (const [name, figures] of Object.entries(results)) {
      const seconds = median(figures.map((f) => f.seconds));
      const wire = median(figures.map((f) => f.wireBytes));
      say(`| ${name.replaceAll('|', '\\|')} | ${seconds.toFixed(1)} s | ${(wire / MiB).toFixed(0)} MiB |`);
    }
    say();
    say(
      'The floors check nothing: no checksum, no resume, no progress. import reads the whole disk on the Xen host (it hashes every byte, zeros included) and hashes what it writes here.',
    );
    say();
    say(`Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:import\`.`);
    const doc = join(root, 'docs', 'benchmarks-import.md');
    writeFileSync(doc, `${lines.join('\n')}\n`);
    process.stderr.write(`written to ${doc}\n`);
  } finally {
    await net.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
