/**
 * `npm run bench`: where the time of a conversion goes. Prints figures and writes them, with the
 * machine they ran on, to docs/benchmarks.md. It never passes or fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ensureFixture } from '../fixtures/images/fixtures.js';
import { bubblewrapArgs } from '../src/sandbox/bubblewrap.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CLI = join(root, 'dist', 'bin', 'xen2kvm.js');
const FLOOR = join(root, 'bench', 'floor.sh');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const lines: string[] = [];
const say = (line = '') => {
  process.stdout.write(`${line}\n`);
  lines.push(line);
};

/** Wall time and peak RSS (KiB, from GNU time) of one command. */
async function measure(
  file: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ ms: number; peakKiB: number; stdout: string }> {
  const started = performance.now();
  const run = await execa('/usr/bin/time', ['-f', '%M', file, ...args], {
    reject: false,
    env: { NO_COLOR: '1', ...env },
  });
  const ms = performance.now() - started;
  if (run.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed: ${run.stderr.slice(-500)}`);
  const peakKiB = Number(String(run.stderr).trim().split('\n').pop());
  return { ms, peakKiB, stdout: String(run.stdout) };
}

/** The per-step times the tool prints on its "time:" line. */
function stepTimes(stdout: string): Map<string, number> {
  const line = /^time: [\d.]+ s \((.*)\)$/m.exec(stdout)?.[1] ?? '';
  return new Map(
    line.split(', ').map((part) => {
      const match = /^(.*) ([\d.]+) s$/.exec(part);
      return [match?.[1] ?? part, Number(match?.[2] ?? 0) * 1000] as [string, number];
    }),
  );
}

async function main(): Promise<void> {
  const fixture = await ensureFixture('debian12-xen-pv', (l) => process.stderr.write(`${l}\n`));
  const work = mkdtempSync('/var/tmp/x2k-bench-');
  const fresh = (name: string) => {
    const path = join(work, name);
    rmSync(path, { force: true });
    rmSync(`${path}.xen2kvm-journal`, { recursive: true, force: true });
    execFileSync('cp', ['--sparse=always', fixture, path]);
    return path;
  };
  try {
    say('# xen2kvm benchmarks');
    say();
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const fsType = execFileSync('stat', ['-f', '-c', '%T', work]).toString().trim();
    say(
      `Machine: ${cpus().length} x ${cpu}, ${Math.round(totalmem() / 1024 ** 3)} GiB RAM, Linux ${execFileSync('uname', ['-r']).toString().trim()}, Node ${process.version}, images on ${fsType}.`,
    );
    say(
      `Fixture: Debian 12 Xen PV guest (fixtures/images/debian12-xen-pv), 2 GiB raw, ${Math.round((statSync(fixture).blocks * 512) / 1024 ** 2)} MiB allocated. Medians of ${RUNS} runs.`,
    );
    say();

    say('## Start-up');
    for (const args of [['--help'], ['--version']]) {
      const times: number[] = [];
      for (let i = 0; i < 10; i++) times.push((await measure('node', [CLI, ...args])).ms);
      say(`- \`xen2kvm ${args[0]}\`: ${(median(times)).toFixed(0)} ms`);
    }
    say();

    say('## migrate --in-place against the floor (the same commands run by a plain shell script)');
    const tool: number[] = [];
    const floor: number[] = [];
    const peaks: number[] = [];
    const steps = new Map<string, number[]>();
    for (let i = 0; i < RUNS; i++) {
      const a = fresh('tool.raw');
      const run = await measure('node', [CLI, 'migrate', '--yes', '--in-place', a]);
      tool.push(run.ms);
      peaks.push(run.peakKiB);
      for (const [name, ms] of stepTimes(run.stdout)) steps.set(name, [...(steps.get(name) ?? []), ms]);
      const b = fresh('floor.raw');
      floor.push((await measure('bash', [FLOOR, b])).ms);
    }
    const toolMedian = median(tool);
    const floorMedian = median(floor);
    say(`- xen2kvm: ${s(toolMedian)} (peak memory ${(median(peaks) / 1024).toFixed(0)} MiB)`);
    say(`- floor: ${s(floorMedian)}`);
    say(
      `- ratio: ${(toolMedian / floorMedian).toFixed(2)}; the tool's own overhead: ${s(toolMedian - floorMedian)}`,
    );
    say('- steps (review and apply passes summed):');
    for (const [name, values] of steps) say(`  - ${name}: ${s(median(values))}`);
    say();
    say(
      "The time beyond the floor is the tool's safety and start-up, which the floor does without: Node's start-up and module loading (about the `--version` time), the read-only review pass that maps, mounts and plans everything before anything may write (map, find root, mount and plan above count both passes), the journal, and the check that the rebuilt initrd really holds the drivers.",
    );
    say();

    say('## What the sandbox costs: the floor with its guest commands in a chroot, and in the sandbox');
    // The tool's own bwrap arguments, without the command (the floor script appends it).
    const sandbox = bubblewrapArgs({ root: '@ROOT@', argv: [] }).slice(0, -1).join('\n');
    const chrooted: number[] = [];
    const sandboxed: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      chrooted.push((await measure('bash', [FLOOR, fresh('floor.raw')])).ms);
      sandboxed.push((await measure('bash', [FLOOR, fresh('floor.raw')], { FLOOR_SANDBOX: sandbox })).ms);
    }
    const cost = median(sandboxed) - median(chrooted);
    say(`- floor, guest commands in a chroot: ${s(median(chrooted))}`);
    say(`- floor, guest commands in the sandbox: ${s(median(sandboxed))}`);
    say(
      `- the sandbox's cost: ${s(cost)}, ${((100 * cost) / toolMedian).toFixed(1)}% of the conversion (xen2kvm --in-place, ${s(toolMedian)})`,
    );
    say();

    say('## --isolation vm: the guest commands in one boot of the appliance VM');
    const vmRuns = Number(process.env.BENCH_VM_RUNS ?? 3);
    const vm: number[] = [];
    const vmPart: number[] = [];
    for (let i = 0; i < vmRuns; i++) {
      const run = await measure('node', [
        CLI,
        'migrate',
        '--yes',
        '--in-place',
        '--isolation',
        'vm',
        '--accel',
        process.env.BENCH_VM_ACCEL ?? 'auto',
        fresh('vm.raw'),
      ]);
      vm.push(run.ms);
      vmPart.push(stepTimes(run.stdout).get('run in vm') ?? 0);
    }
    const accel = process.env.BENCH_VM_ACCEL ?? 'auto';
    say(
      `- migrate --in-place --isolation vm (--accel ${accel}): ${s(median(vm))}, of which the VM ${s(median(vmPart))} (medians of ${vmRuns})`,
    );
    say(
      `- against the sandbox (xen2kvm --in-place above): ${(median(vm) / toolMedian).toFixed(1)} times as long`,
    );
    say(
      "The VM's time is its boot and, mostly, the guest's update-initramfs and grub-install run inside it: under TCG (software emulation, as on this machine) every instruction of them is emulated. Under KVM it has not been measured (no working KVM here).",
    );
    say();

    say('## dry-run');
    const dry: number[] = [];
    const image = fresh('dry.raw');
    for (let i = 0; i < RUNS; i++) dry.push((await measure('node', [CLI, 'migrate', '--dry-run', image])).ms);
    say(`- migrate --dry-run: ${s(median(dry))}`);
    say();

    say('## Batch: 8 copies of the fixture, converted in place');
    const perMinute: Record<number, number> = {};
    for (const jobs of [1, 2]) {
      const names = Array.from({ length: 8 }, (_, i) => fresh(`batch-${jobs}-${i}.raw`));
      const manifest = join(work, `batch-${jobs}.yaml`);
      writeFileSync(
        manifest,
        `defaults:\n  mode: in-place\nimages:\n${names.map((n) => `  - ${n}\n`).join('')}`,
      );
      const run = await measure('node', [CLI, 'batch', manifest, '--jobs', String(jobs), '--json']);
      perMinute[jobs] = 8 / (run.ms / 60_000);
      say(
        `- --jobs ${jobs}: ${s(run.ms)} for 8 images, ${(perMinute[jobs] as number).toFixed(1)} images per minute`,
      );
      for (const name of names) {
        rmSync(name, { force: true });
        rmSync(`${name}.xen2kvm-journal`, { recursive: true, force: true });
      }
    }
    say(
      `- ratio --jobs 2 / --jobs 1: ${((perMinute[2] as number) / (perMinute[1] as number)).toFixed(2)} (2 cores; update-initramfs is most of each conversion)`,
    );
    say();

    say('## Scaling: the same guest inside bigger sparse images');
    say('| virtual size | dry-run | in place | copy (raw) | copy allocated |');
    say('|---|---|---|---|---|');
    for (const gib of [2, 20, 200]) {
      const sized = (name: string) => {
        const path = fresh(name);
        truncateSync(path, gib * 1024 ** 3);
        return path;
      };
      const d = sized(`dry-${gib}.raw`);
      const dryMs = (await measure('node', [CLI, 'migrate', '--dry-run', d])).ms;
      const p = sized(`inplace-${gib}.raw`);
      const inPlaceMs = (await measure('node', [CLI, 'migrate', '--yes', '--in-place', p])).ms;
      const c = sized(`copy-${gib}.raw`);
      const out = join(work, `copy-${gib}-out.raw`);
      const copyMs = (await measure('node', [CLI, 'migrate', '--yes', '--output', out, c])).ms;
      const allocated = (statSync(out).blocks * 512) / 1024 ** 2;
      say(`| ${gib} GiB | ${s(dryMs)} | ${s(inPlaceMs)} | ${s(copyMs)} | ${allocated.toFixed(0)} MiB |`);
      for (const path of [d, p, c, out]) rmSync(path, { force: true });
      for (const path of [d, p, c, out]) rmSync(`${path}.xen2kvm-journal`, { recursive: true, force: true });
      for (const name of [`dry-${gib}.xml`, `inplace-${gib}.xml`, `copy-${gib}-out.xml`])
        rmSync(join(work, name), { force: true });
    }
    say();
    say(`Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench\`.`);
    const doc = join(root, 'docs', 'benchmarks.md');
    writeFileSync(doc, `${lines.join('\n')}\n`);
    process.stderr.write(`written to ${doc}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
