/**
 * The file system as a hostile user leaves it (issue 14, class 5): output written all or nothing
 * across every file and host, temporaries created exclusively (never through an existing name),
 * previous files left as they were on any failure, I/O errors one line with exit 4, a path that
 * is not a directory a usage error (exit 2). The writer (src/cli/output.ts) is tested directly
 * with a file system that fails on purpose, and through the CLI on real failures: a directory
 * where a file must go, a full disk (a small tmpfs in a private mount namespace), a closed pipe.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FileOps, OutputError, filesIn, writeAll } from '../../src/cli/output.js';
import { BIN, expectRefused, sgnf } from '../support/cli.js';
import { describeKernel } from '../support/netns.js';

const GOLDEN_MODEL = join(import.meta.dirname, '..', '..', 'golden', 'default-group-3-ports', 'model.json');
const WORK = mkdtempSync(join(tmpdir(), 'sgnf-output-'));
afterAll(() => rmSync(WORK, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = join(WORK, `case-${n++}`);
  mkdirSync(d);
  return d;
};

/** Every entry under `dir`, recursively, with file contents: the state a failure must leave alone. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isSymbolicLink()) out[r] = `-> ${fs.readlinkSync(p)}`;
      else if (e.isDirectory()) {
        out[`${r}/`] = '';
        walk(p, r);
      } else out[r] = readFileSync(p, 'utf8');
    }
  };
  walk(dir, '');
  return out;
}

/** node:fs whose `name` call fails (with `code`) at its `at`-th call, and from then on if `stuck`. */
function failing(name: keyof FileOps, at: number, stuck = false, code = 'EIO'): FileOps {
  let calls = 0;
  const wrapped = ((...args: unknown[]) => {
    if (++calls === at || (stuck && calls > at)) throw Object.assign(new Error(`${code}: injected failure, ${name}`), { code });
    return (fs[name] as (...a: unknown[]) => unknown)(...args);
  }) as never;
  return { ...fs, [name]: wrapped };
}

const FILES = { a: 'new a\n', b: 'new b\n', c: 'new c\n' };

describe('writeAll: all or nothing', () => {
  it('writes every file and leaves no temporary', async () => {
    const d = fresh();
    writeFileSync(join(d, 'a'), 'old a\n');
    expect(writeAll(d, filesIn(FILES))).toEqual(['a', 'b', 'c'].map((f) => join(d, f)));
    expect(tree(d)).toEqual({ a: 'new a\n', b: 'new b\n', c: 'new c\n' });
  });

  for (const [call, at] of [['renameSync', 2], ['renameSync', 3], ['writeSync', 2], ['openSync', 3], ['closeSync', 1], ['linkSync', 2], ['mkdirSync', 2]] as const) {
    it(`a failure of ${call} (call ${at}) leaves every previous file, removes what it created, and says so in one line`, async () => {
      const d = fresh();
      writeFileSync(join(d, 'a'), 'old a\n');
      mkdirSync(join(d, 'h1'));
      writeFileSync(join(d, 'h1', 'b'), 'old h1/b\n');
      const before = tree(d);
      const files = [...filesIn(FILES), ...filesIn(FILES, 'h1'), ...filesIn(FILES, 'h2'), ...filesIn(FILES, 'h3')];
      let error: unknown;
      try {
        writeAll(d, files, failing(call, at));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(OutputError);
      expect((error as Error).message).toMatch(/^cannot [a-z ]+ \S+: injected failure \(EIO\); nothing was written$/);
      expect(tree(d)).toEqual(before);
    });
  }

  it('when a replaced file cannot be put back either, the message says where the previous one is', async () => {
    const d = fresh();
    writeFileSync(join(d, 'a'), 'old a\n');
    expect(() => writeAll(d, filesIn(FILES), failing('renameSync', 2, true))).toThrow(
      new RegExp(`^cannot replace ${d}/b: injected failure \\(EIO\\); the previous ${d}/a is at ${d}/\\.sgnf-[0-9a-f]{12}\\.old$`),
    );
    const kept = readdirSync(d).filter((f) => f.endsWith('.old'));
    expect(kept.map((f) => readFileSync(join(d, f), 'utf8'))).toEqual(['old a\n']);
  });

  it('creates temporaries exclusively, and takes another name when one exists', async () => {
    const d = fresh();
    const flags: unknown[] = [];
    let collisions = 1;
    const ops: FileOps = {
      ...fs,
      openSync: ((path: fs.PathLike, flag: fs.OpenMode, mode?: fs.Mode) => {
        flags.push(flag);
        if (collisions-- > 0) throw Object.assign(new Error('EEXIST: file already exists'), { code: 'EEXIST' });
        return fs.openSync(path, flag, mode);
      }) as FileOps['openSync'],
    };
    writeAll(d, filesIn({ a: 'x' }), ops);
    expect(flags).toEqual(['wx', 'wx']);
    expect(tree(d)).toEqual({ a: 'x' });
  });

  it('replaces a symbolic link at a final name, never what it points to', async () => {
    const d = fresh();
    const target = join(fresh(), 'target');
    writeFileSync(target, 'precious\n');
    symlinkSync(target, join(d, 'a'));
    writeAll(d, filesIn(FILES));
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(lstatSync(join(d, 'a')).isFile()).toBe(true);
  });

  it('refuses to write through a symbolic link below the output directory', async () => {
    const d = fresh();
    const elsewhere = fresh();
    symlinkSync(elsewhere, join(d, 'h1'));
    expect(() => writeAll(d, filesIn(FILES, 'h1'))).toThrow(/h1: it is a symbolic link/);
    expect(tree(elsewhere)).toEqual({});
  });

  it('follows a symbolic link that is the output directory itself', async () => {
    const real = fresh();
    const link = join(fresh(), 'out');
    symlinkSync(real, link);
    writeAll(link, filesIn({ a: 'x' }));
    expect(tree(real)).toEqual({ a: 'x' });
  });
});

describe('the CLI on a hostile output directory', () => {
  it('-o FILE is a usage error (exit 2), the file untouched', async () => {
    const f = join(fresh(), 'file');
    writeFileSync(f, 'mine\n');
    expectRefused(await sgnf(['compile', GOLDEN_MODEL, '-o', f]), /is not a directory/);
    expect(readFileSync(f, 'utf8')).toBe('mine\n');
  });

  it('a directory where iptables.v4 goes: exit 4, one line, nothing replaced, no temporary', async () => {
    const d = fresh();
    writeFileSync(join(d, 'ipset.restore'), 'old\n');
    mkdirSync(join(d, 'iptables.v4'));
    const before = tree(d);
    const r = await sgnf(['compile', GOLDEN_MODEL, '-o', d]);
    expect(r.status, r.stderr).toBe(4);
    expect(r.stderr).toBe(`sgnf: cannot replace ${d}/iptables.v4: it is a directory\n`);
    expect(tree(d)).toEqual(before);
  });

  it('diff -o and check --update go through the same writer', async () => {
    const d = fresh();
    mkdirSync(join(d, 'iptables.v6'));
    const before = tree(d);
    expect((await sgnf(['check', GOLDEN_MODEL, '--golden', d, '--update'])).status).toBe(4);
    writeFileSync(join(d, 'file'), 'mine\n');
    expectRefused(await sgnf(['diff', GOLDEN_MODEL, GOLDEN_MODEL, '-o', join(d, 'file')]), /is not a directory/);
    expect(tree(d)).toEqual({ ...before, file: 'mine\n' });
  });

  it('a host name too long for a file name is refused with its path, before anything is written', async () => {
    const d = fresh();
    const model = JSON.parse(readFileSync(GOLDEN_MODEL, 'utf8')) as { devices: Record<string, Record<string, unknown>> };
    const ids = Object.keys(model.devices);
    ids.forEach((id, i) => (model.devices[id]!['binding:host_id'] = i === ids.length - 1 ? 'h'.repeat(300) : `host-${i}`));
    const r = await sgnf(['compile', '-', '--each-host', '-o', join(d, 'out')], { input: model });
    expectRefused(r, `$.devices["${ids.at(-1)}"]["binding:host_id"]: host name`);
    expect(tree(d)).toEqual({});
  });

  it('a closed pipe or a full device on standard output: exit 4 and one line, not a stack trace', async () => {
    const devFull = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" compile "${GOLDEN_MODEL}" > /dev/full`], { encoding: 'utf8' });
    expect(devFull.status, devFull.stderr).toBe(4);
    expect(devFull.stderr).toBe('sgnf: cannot write standard output: no space left on device (ENOSPC)\n');
    // A pipe whose reader has gone: the output (hundreds of kB) cannot fit the pipe's buffer.
    const big = join(fresh(), 'big.json');
    const model = JSON.parse(readFileSync(GOLDEN_MODEL, 'utf8')) as { sg_member_ips?: Record<string, unknown> };
    const members = Array.from({ length: 20_000 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    writeFileSync(big, JSON.stringify({ ...model, sg_member_ips: { extra: { IPv4: members } } }));
    const bash = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" compile "${big}" | true; echo "status \${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
    expect(bash.stderr).toBe('sgnf: cannot write standard output: broken pipe (EPIPE)\nstatus 4\n');
  });
});

const mountable = ((): { ok: boolean; reason: string } => {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root (a tmpfs in a private mount namespace needs CAP_SYS_ADMIN)' };
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'true'], { encoding: 'utf8' });
  return r.status === 0 ? { ok: true, reason: '' } : { ok: false, reason: `unshare -m failed: ${r.stderr.trim()}` };
})();

describeKernel('a full disk (a 16 kB tmpfs in a private mount namespace)', mountable, () => {
  /**
   * Runs `script` in a new mount namespace with a 16 kB tmpfs at $FS, then prints every file
   * under it; the mount dies with the namespace. Returns the script's output and the listing.
   */
  function onSmallDisk(script: string): { out: string; files: Record<string, string> } {
    const mnt = fresh();
    const dump = `cd "$FS" && find . -mindepth 1 | sort | while read -r f; do if [ -d "$f" ]; then echo "$f/"; else echo "$f=$(cat "$f" | head -c 40 | tr '\\n' ' ')"; fi; done`;
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=16k tmpfs "$FS" && { ${script}; } ; echo "---"; ${dump}`], {
      encoding: 'utf8',
      env: { ...process.env, FS: mnt, SGNF: `"${process.execPath}" "${BIN}"` },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const [out, listing] = (r.stdout + r.stderr).split('---\n') as [string, string];
    const files = Object.fromEntries(listing.trim().split('\n').filter(Boolean).map((l) => [l.split('=')[0]!, l.split('=').slice(1).join('=')]));
    return { out, files };
  }

  it('compile -o: exit 4, the previous files as they were, no temporary', async () => {
    const { out, files } = onSmallDisk(
      `mkdir "$FS/out" && echo old > "$FS/out/iptables.v4" && eval "$SGNF compile '${GOLDEN_MODEL}' -o '$FS/out'" 2>&1; echo "status $?"`,
    );
    expect(out).toMatch(/^sgnf: cannot write \S+: no space left on device \(ENOSPC\); nothing was written\nstatus 4\n$/);
    expect(files).toEqual({ './out/': '', './out/iptables.v4': 'old' });
  });

  it('--each-host: no host is written unless every host is', async () => {
    const model = JSON.parse(readFileSync(GOLDEN_MODEL, 'utf8')) as { devices: Record<string, Record<string, unknown>> };
    Object.values(model.devices).forEach((d, i) => (d['binding:host_id'] = `host-${i}`));
    const input = join(fresh(), 'cloud.json');
    writeFileSync(input, JSON.stringify(model));
    const { out, files } = onSmallDisk(
      `mkdir -p "$FS/out/host-0" && echo old > "$FS/out/host-0/ipset.restore" && eval "$SGNF compile '${input}' --each-host -o '$FS/out'" 2>&1; echo "status $?"`,
    );
    expect(out).toMatch(/no space left on device \(ENOSPC\); nothing was written\nstatus 4\n$/);
    expect(files).toEqual({ './out/': '', './out/host-0/': '', './out/host-0/ipset.restore': 'old' });
  });
});
