/** `xen2kvm cleanup [IMAGE]`: releases the mounts, loop devices and scratch files a killed run left. */
import { HostCommandRunner } from '../exec.js';
import { recoverLeftovers } from '../safety/recovery.js';
import { type CliIo, writeLine } from '../ui/io.js';

export async function cleanupLeftovers(image: string | undefined, io: CliIo): Promise<number> {
  const done = await recoverLeftovers(new HostCommandRunner(), image);
  for (const line of done) writeLine(io.stdout, line);
  if (done.length === 0) writeLine(io.stdout, 'nothing left behind by earlier runs');
  return 0;
}
