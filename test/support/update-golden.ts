/**
 * Regenerate every golden file through the real CLI (`npm run golden:update`): for each case,
 * `sgnf check --update --golden golden/<case> <args> golden/<case>/model.json`, once per backend.
 * Review the resulting `git diff` before committing it.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { goldenCases } from './golden.js';
import { BACKENDS } from './backends.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'sgnf');
for (const c of goldenCases()) {
  for (const backend of BACKENDS) {
    execFileSync(bin, ['check', '--update', '--golden', c.dir, '--backend', backend, ...c.args, join(c.dir, 'model.json')], {
      stdio: 'inherit',
    });
  }
}
