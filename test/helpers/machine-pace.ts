/**
 * How much slower than an idle reference machine this one runs right now, so that deadlines in the
 * tests (qemu boots, a VM's script, a CLI run, a wait for a terminal) stretch on a busy or slow
 * machine instead of turning the suite red. Two readings, the larger wins:
 *   - a fixed piece of CPU work (SHA-256 of 256 MiB, single-threaded) against the time it took on an
 *     idle 2-core Debian 12 host with SHA extensions (REFERENCE_MS);
 *   - the 1-minute load average per CPU, for contention the short sample missed.
 * The factor is at least 1 (an idle fast machine keeps the base deadlines) and at most MAX_FACTOR.
 */
import { createHash } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';

const REFERENCE_MS = 240;
const MAX_FACTOR = 8;
let cached: { factor: number; at: number } | undefined;

function sampleMs(): number {
  const block = Buffer.alloc(64 << 20, 7);
  const started = performance.now();
  for (let i = 0; i < 4; i++) createHash('sha256').update(block).digest();
  return performance.now() - started;
}

/** The current slowness factor, measured at most every 30 s. */
export function machinePace(): number {
  const now = Date.now();
  if (cached && now - cached.at < 30_000) return cached.factor;
  const cpu = sampleMs() / REFERENCE_MS;
  const load = (loadavg()[0] ?? 0) / availableParallelism();
  const factor = Math.min(MAX_FACTOR, Math.max(1, cpu, load));
  cached = { factor, at: now };
  return factor;
}

/** `baseSeconds` stretched by the machine's current pace, rounded up. */
export function paced(baseSeconds: number): number {
  return Math.ceil(baseSeconds * machinePace());
}

/** A test's deadline in milliseconds: `baseSeconds` stretched by the pace, at least doubled for load that comes later. */
export function testDeadline(baseSeconds: number): number {
  return Math.ceil(baseSeconds * Math.max(2, machinePace())) * 1000;
}
