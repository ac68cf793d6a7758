import { describe, expect, it } from 'vitest';
import { withProgress } from '../../src/ui/task-list.js';

describe('progress of long steps', () => {
  it('on a terminal, shows the description under the task every second while the work runs', async () => {
    const task: { output?: string } = {};
    const seen: string[] = [];
    const result = await withProgress(
      task,
      { interactive: true },
      (t) => `running for ${t.toFixed(0)} s`,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 2300));
        seen.push(task.output ?? '');
        return 42;
      },
    );
    expect(result).toBe(42);
    expect(seen[0]).toBe('running for 2 s');
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
