/**
 * Under scripts/sanitize.sh only (SGDR_SANITIZE=1, the sanitizer build of the addon): after the
 * tests of each file, LeakSanitizer checks this worker process for leaks. Its usual check runs at
 * exit, but vitest ends its workers with SIGTERM (then SIGKILL after a second), so that check would
 * never run in the processes that run the tests. Objects still alive in JS are reachable through
 * Node's references, so they do not count; the report goes to the run's log files, where
 * scripts/sanitizer-report.js counts the leaks allocated by our code.
 */
import { afterAll } from 'vitest';
import { native } from '../../lib/binding';

if (process.env.SGDR_SANITIZE) {
  afterAll(() => {
    const probe = (native() as unknown as { sanitizerProbe?: (kind: string) => boolean }).sanitizerProbe;
    if (!probe) throw new Error('SGDR_SANITIZE is set, but the addon is not the sanitizer build (no sanitizerProbe)');
    probe('leak-check');
    // The check stops the process while it scans the heap: ~10-30 s after the data tests on an idle
    // 2-core machine, minutes when other work shares the cores.
  }, 600_000);
}
