/** Commands that read two models (diff, affected, diff --each-host): bad input names which one. */
import { DiffModelError } from '../delta/diff.js';
import { ModelError } from '../model/errors.js';
import { quotePath } from './output.js';

/** Runs `f` on the `which` model read from `file`; its ModelError is reported as that model's. */
export function named<T>(which: 'old' | 'new', file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ModelError && !(e instanceof DiffModelError)) throw new DiffModelError(which, e, file === '-' ? 'standard input' : quotePath(file));
    throw e;
  }
}
