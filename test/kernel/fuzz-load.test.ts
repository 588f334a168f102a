/**
 * A sample of the fuzzer's compiled cases (test/support/fuzz.ts) loads into a real kernel, as a
 * user loads it, each in a namespace of its own: for iptables the ipset script, both
 * iptables-restore files (the nf_tables and the legacy variant in turn), then the ipset script
 * once more with the rules in place (it must re-run at any time: its temporary sets can clash
 * with no live set); for nft the ruleset checked, loaded twice, then sets.nft. Cases with crafted
 * ids come first. A fixed seed (the same sample every run) and a random one (printed).
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { type Netns, NetnsSession, describeKernel, kernelAvailable } from '../support/netns.js';
import { type FuzzSpec, checkCase, fuzzModel, fuzzOptions, fuzzSpecArb } from '../support/fuzz.js';
import { FIXED_SEED } from '../support/property-runs.js';

const TOOLS = ['ipset', 'nft', 'iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-legacy-restore', 'ip6tables-legacy-restore'];
/** Cases per backend and seed. */
const PER_BACKEND = Number(process.env['SGNF_FUZZ_KERNEL_CASES'] ?? 3);

interface Sampled {
  readonly name: string;
  readonly spec: FuzzSpec;
  readonly files: Readonly<Record<string, string>>;
  readonly backend: 'iptables' | 'nft';
}

const craftsIds = (s: FuzzSpec): boolean => s.mutations.some((m) => m.kind === 'renameId' || m.kind === 'copyId' || m.kind === 'network');

function sample(seed: number): Sampled[] {
  const specs = fc.sample(fuzzSpecArb, { numRuns: 400, seed });
  // Crafted ids first (stable sort), then whatever else compiled.
  specs.sort((a, b) => Number(craftsIds(b)) - Number(craftsIds(a)));
  const out: Sampled[] = [];
  const count = { iptables: 0, nft: 0 };
  for (const [i, spec] of specs.entries()) {
    const outcome = checkCase(fuzzModel(spec), fuzzOptions(spec));
    if (outcome.kind !== 'compiled' || count[outcome.backend] >= PER_BACKEND) continue;
    count[outcome.backend]++;
    out.push({ name: `seed ${seed} #${i} (${outcome.backend}${craftsIds(spec) ? ', crafted ids' : ''})`, spec, files: outcome.files, backend: outcome.backend });
  }
  return out;
}

async function loadIptables(ns: Netns, files: Readonly<Record<string, string>>, variant: 'nft' | 'legacy'): Promise<void> {
  await ns.must(['ipset', 'restore'], { input: files['ipset.restore']! });
  await ns.must([`iptables-${variant}-restore`], { input: files['iptables.v4']! });
  await ns.must([`ip6tables-${variant}-restore`], { input: files['iptables.v6']! });
  // Membership updates are the same script, run again while the rules use the sets.
  await ns.must(['ipset', 'restore'], { input: files['ipset.restore']! });
}

async function loadNft(ns: Netns, files: Readonly<Record<string, string>>): Promise<void> {
  await ns.must(['nft', '-c', '-f', '-'], { input: files['ruleset.nft']! });
  await ns.must(['nft', '-f', '-'], { input: files['ruleset.nft']! });
  await ns.must(['nft', '-f', '-'], { input: files['ruleset.nft']! });
  await ns.must(['nft', '-f', '-'], { input: files['sets.nft']! });
}

const kernel = await kernelAvailable(TOOLS);
const randomSeed = Math.floor(Math.random() * 2 ** 31);
const cases = kernel.ok ? [...sample(FIXED_SEED), ...sample(randomSeed)] : [];

describeKernel('fuzzed models that compile load into a real kernel', kernel, () => {
  test('the sample holds cases of both backends', () => {
    expect(cases.filter((c) => c.backend === 'iptables').length, `random seed ${randomSeed}`).toBeGreaterThan(0);
    expect(cases.filter((c) => c.backend === 'nft').length, `random seed ${randomSeed}`).toBeGreaterThan(0);
  });
  for (const [i, c] of cases.entries()) {
    test.concurrent(c.name, async () => {
      const session = new NetnsSession('fuzz');
      try {
        const ns = await session.create('host');
        if (c.backend === 'nft') await loadNft(ns, c.files);
        else await loadIptables(ns, c.files, i % 2 === 0 ? 'nft' : 'legacy');
      } catch (e) {
        throw new Error(`${(e as Error).message}\nspec: ${JSON.stringify(c.spec)}`);
      } finally {
        await session.destroy();
      }
    });
  }
});
