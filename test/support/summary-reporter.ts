/**
 * Ends the test log with one plain line, `N passed, N failed, N skipped`, which tools that read
 * test logs (CI) understand whatever the runner; vitest's own summary line is not of that form.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) failed++;
    }
    this.line = `${passed} passed, ${failed} failed, ${skipped} skipped`;
  }

  private line = '';

  /** Runs after every reporter's end-of-run output: the line must be the last of the log. */
  onFinished(): void {
    if (this.line !== '') setImmediate(() => process.stdout.write(`\n${this.line}\n`));
  }
}
