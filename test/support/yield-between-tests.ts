/**
 * Setup file (vitest.config.ts): after every test, let the worker's event loop turn once.
 * Synchronous tests run back to back through microtasks only, so the worker never reads the
 * runner's replies while a file's property tests add up past a minute (the delta equivalence
 * properties do on a loaded machine); the reply to a task update then arrives after its 60 s
 * timeout and vitest fails the run ("Timeout calling onTaskUpdate") although every test passed.
 */
import { afterEach } from 'vitest';

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
