/**
 * What the test hosts (libvirt-host.ts, fleet-hosts.ts) share: running a command, daemons known by
 * their pid files and stopped by pid, and the network namespaces a killed run left behind.
 */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';

/** Runs argv (no shell) and returns its stdout; a failure throws with its stderr. */
export async function sh(argv: string[], input?: string): Promise<string> {
  const [file = '', ...args] = argv;
  return (await execa(file, args, { input })).stdout;
}

export function pidOf(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, up to ten seconds' grace, then SIGKILL. */
export async function stopPid(pid: number | undefined): Promise<void> {
  if (pid === undefined || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** Waits up to ten seconds for a daemon to write its pid file; says which daemon did not. */
export async function waitForPid(name: string, pidFile: string): Promise<void> {
  for (let i = 0; i < 100 && pidOf(pidFile) === undefined; i++) await new Promise((r) => setTimeout(r, 100));
  if (pidOf(pidFile) === undefined) throw new Error(`${name} wrote no pid to ${pidFile}`);
}

/** Deletes a namespace with whatever still runs in it. */
export async function deleteNamespace(ns: string): Promise<void> {
  const pids = (await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout;
  for (const pid of pids.split('\n').filter(Boolean)) await stopPid(Number(pid));
  await execa('ip', ['netns', 'delete', ns], { reject: false });
}

/**
 * Deletes the namespaces of test hosts whose process is gone (a run that was killed): `pattern`'s
 * first group is the namespace, its second the pid of the test process that made it.
 */
export async function removeDeadNamespaces(pattern: RegExp): Promise<void> {
  const list = (await execa('ip', ['netns', 'list'], { reject: false })).stdout;
  for (const line of list.split('\n')) {
    const match = pattern.exec(line);
    if (!match?.[1] || alive(Number(match[2]))) continue;
    await deleteNamespace(match[1]);
  }
}
