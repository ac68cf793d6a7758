import { describe, expect, it } from 'vitest';
import { withProgress } from '../../src/ui/task-list.js';

describe('progress of long steps', () => {
  it('on a terminal, shows the description under the task every second while the work runs', async () => {
    const task: { output?: string } = {};
    const seen: string[] = [];
    // Waits for the line to appear, then for it to change: no fixed sleep that load could outrun.
    const nextOutput = async (after: string | undefined) => {
      while (task.output === after) await new Promise((resolve) => setTimeout(resolve, 50));
      return task.output ?? '';
    };
    const result = await withProgress(
      task,
      { interactive: true },
      (t) => `running for ${t.toFixed(0)} s`,
      async () => {
        seen.push(await nextOutput(undefined));
        seen.push(await nextOutput(seen[0]));
        return 42;
      },
    );
    expect(result).toBe(42);
    const seconds = seen.map((line) => Number(/^running for (\d+) s$/.exec(line)?.[1]));
    expect(seconds[0]).toBeGreaterThanOrEqual(1);
    expect(seconds[1]).toBeGreaterThan(seconds[0] ?? Number.POSITIVE_INFINITY);
  });
  it('without a terminal, adds nothing to the log', async () => {
    const task: { output?: string } = {};
    await withProgress(
      task,
      { interactive: false },
      () => 'x',
      () => new Promise((resolve) => setTimeout(resolve, 1200)),
    );
    expect(task.output).toBeUndefined();
  });
});
