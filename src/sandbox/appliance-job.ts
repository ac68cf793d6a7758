/**
 * The appliance VM's program: its /init (a busybox shell script) and the job the host gives it,
 * the guest's filesystems to mount and the guest commands to run in order; and the reading of
 * what it reports back. Pure text in, text out: the VM does the work, the host only reads.
 *
 * The VM reports on its second serial port (ttyS1, a file on the host), apart from the kernel's
 * console on ttyS0. What comes back was written by a machine the guest's code ran in as root, so
 * it is guest input: it is read with a size cap and strict line formats, and it decides nothing
 * on its own - every command's check still runs on the host, over the image, afterwards.
 */
import { shellQuote } from '../exec.js';

export interface ApplianceMount {
  /** The device as the VM sees it (/dev/vda2). */
  device: string;
  /** Guest path (/, /boot). */
  path: string;
  fsType: string;
}

export interface ApplianceCommand {
  argv: readonly string[];
  env: Record<string, string>;
  input?: string;
  timeoutSeconds: number;
  /** A non-zero exit does not stop the job: the host's check alone judges the command. */
  tolerant: boolean;
}

export interface ApplianceResult {
  exitCode: number;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

export interface ApplianceReport {
  results: ApplianceResult[];
  /** Whether the VM unmounted the guest's filesystems cleanly before powering off. */
  unmounted: boolean;
}

/**
 * The appliance's files (initramfs, report) live in TMPDIR/xen2kvm-appliance-PID-XXXXXX: a run
 * killed with SIGKILL leaves it, and `xen2kvm cleanup` (or the next run) removes it once PID is dead.
 */
export const APPLIANCE_SCRATCH_PREFIX = 'xen2kvm-appliance-';

/** How much of a command's output comes back (its tail): enough for messages and known complaints. */
export const OUTPUT_TAIL_BYTES = 65536;

export const INIT_SCRIPT = `#!/bin/busybox sh
# xen2kvm appliance: mount the guest, run its commands, report on ttyS1, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "xen2kvm-appliance: $*" > /dev/ttyS0; }
report() { echo "$*" > /dev/ttyS1; }
finish() { sync; report "XEN2KVM-DONE $1"; poweroff -f; }
while read -r module; do insmod "/modules/$module" || say "insmod $module failed"; done < /modules/order
while read -r device path type; do
  n=0
  while [ ! -b "$device" ] && [ "$n" -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  mount -t "$type" "$device" "/guest$path" || { say "cannot mount $device on $path"; finish unmounted; }
done < /job/mounts
for fs in proc sys dev; do [ -d "/guest/$fs" ] || mkdir -p "/guest/$fs"; done
mount -t proc proc /guest/proc
mount -t sysfs sysfs /guest/sys
mount -o bind /dev /guest/dev
i=1
while [ -f "/job/$i/run" ]; do
  read -r limit tolerant < "/job/$i/meta"
  say "command $i: $(cat "/job/$i/title")"
  start=$(date +%s)
  timeout -s KILL "$limit" sh "/job/$i/run" < "/job/$i/stdin" > /tmp/out 2> /tmp/err
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  # Whatever the command left running dies with it (init itself is spared).
  kill -9 -1 2>/dev/null
  sleep 0.2
  timed=0
  if [ "$rc" -eq 137 ] && [ "$elapsed" -ge "$limit" ]; then timed=1; fi
  report "XEN2KVM-RESULT $i $rc $timed"
  report "XEN2KVM-STDOUT $i"
  tail -c ${OUTPUT_TAIL_BYTES} /tmp/out | base64 > /dev/ttyS1
  report "XEN2KVM-STDERR $i"
  tail -c ${OUTPUT_TAIL_BYTES} /tmp/err | base64 > /dev/ttyS1
  report "XEN2KVM-END $i"
  [ "$rc" -eq 0 ] || [ "$tolerant" = 1 ] || break
  i=$((i + 1))
done
umount /guest/dev /guest/sys /guest/proc
clean=unmounted
while read -r path; do
  umount "/guest$path" || { mount -o remount,ro "/guest$path"; clean=unclean; }
done < /job/umounts
finish "$clean"
`;

/** The files of a job, by path inside the appliance's initramfs. */
export function jobFiles(
  mounts: readonly ApplianceMount[],
  commands: readonly ApplianceCommand[],
): Map<string, string> {
  const files = new Map<string, string>();
  files.set('/job/mounts', mounts.map((m) => `${m.device} ${m.path} ${m.fsType}\n`).join(''));
  files.set(
    '/job/umounts',
    [...mounts]
      .reverse()
      .map((m) => `${m.path}\n`)
      .join(''),
  );
  commands.forEach((command, index) => {
    const dir = `/job/${index + 1}`;
    // env -i: the guest's program starts with the environment the host chose and nothing else.
    const env = Object.entries(command.env).map(([key, value]) => shellQuote(`${key}=${value}`));
    files.set(
      `${dir}/run`,
      `exec env -i ${env.join(' ')} chroot /guest ${command.argv.map(shellQuote).join(' ')}\n`,
    );
    files.set(`${dir}/meta`, `${command.timeoutSeconds} ${command.tolerant ? 1 : 0}\n`);
    files.set(`${dir}/stdin`, command.input ?? '');
    files.set(`${dir}/title`, `${command.argv.join(' ').replace(/[^\x20-\x7e]/g, '?')}\n`);
  });
  return files;
}

/** Reads the VM's report: one result per command that ran, in order; anything malformed ends it. */
export function parseReport(text: string, commandCount: number): ApplianceReport {
  const lines = text.replace(/\r/g, '').split('\n');
  const results: ApplianceResult[] = [];
  let unmounted = false;
  let at = 0;
  const take = (marker: string): string => {
    const chunk: string[] = [];
    while (at < lines.length && !lines[at]?.startsWith('XEN2KVM-')) chunk.push(lines[at++] ?? '');
    if (!lines[at]?.startsWith(marker)) throw new Error('malformed');
    return Buffer.from(chunk.join(''), 'base64').toString('utf8');
  };
  try {
    while (at < lines.length) {
      const line = lines[at++] ?? '';
      const done = /^XEN2KVM-DONE (unmounted|unclean)$/.exec(line);
      if (done) {
        unmounted = done[1] === 'unmounted';
        break;
      }
      const result = /^XEN2KVM-RESULT (\d+) (\d+) ([01])$/.exec(line);
      if (!result) continue;
      const index = Number(result[1]);
      if (index !== results.length + 1 || index > commandCount) break;
      if (lines[at++] !== `XEN2KVM-STDOUT ${index}`) break;
      const stdout = take(`XEN2KVM-STDERR ${index}`);
      at++;
      const stderr = take(`XEN2KVM-END ${index}`);
      at++;
      results.push({ exitCode: Number(result[2]), timedOut: result[3] === '1', stdout, stderr });
    }
  } catch {
    // A report cut short (the VM died, or its output was tampered with): what was complete stands.
  }
  return { results, unmounted };
}
