/** Processes that hold an image open - a running qemu, a Xen device model, qemu-nbd, an editor. */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';

export interface Holder {
  pid: number;
  command: string;
}

export function processesHolding(image: string): Holder[] {
  let target: string;
  try {
    target = realpathSync(image);
  } catch {
    return [];
  }
  const holders: Holder[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === target;
      } catch {
        return false;
      }
    });
    if (holds) {
      let command = '?';
      try {
        command = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        // the process exited meanwhile
      }
      holders.push({ pid, command });
    }
  }
  return holders;
}
