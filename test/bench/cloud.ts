/**
 * Server-side rows of the benchmark, one cloud size per fresh process:
 * `node --expose-gc --import tsx test/bench/cloud.ts LIB PORTS HOSTS` prints one JSON line.
 * LIB is the tsc build of src/index.ts. The cloud is the benchmark's cloud-wide generator (one
 * group per 50 ports, 10 rules each, 1 to 3 groups per port, every port bound to a host).
 *
 *   - prepare: ms and the memory it keeps (heap after a full collection, and RSS);
 *   - one-member change as a JSON Patch (a member added to a group's sg_member_ips):
 *     `prepared.patch(ops)` alone, and with `affected(prepared, patched)`; the hosts it reaches;
 *   - one-rule change as a JSON Patch (a rule added to a group), the same;
 *   - a deep copy of the input (structuredClone): what applying a patch to a copy of the whole
 *     model would cost (the way a generic JSON Patch library keeps the old model);
 *   - slice of one host: first slice of a host (member texts made on first use), then warm;
 *     its JSON text; bytes per host against the cloud model's bytes, the host's compiled files
 *     and Neutron's per-device RPC with each remote-group rule expanded per member.
 */
import { pathToFileURL } from 'node:url';
import { cloudWide } from './generators.js';

type Obj = Record<string, any>;

export interface CloudRow {
  readonly ports: number;
  readonly hosts: number;
  readonly groups: number;
  readonly cloudBytes: number;
  readonly jsonParseMs: number;
  readonly prepareMs: number;
  readonly preparedHeapMB: number;
  readonly rssMB: number;
  readonly cloneMs: number;
  readonly memberPatch: Timing & { readonly affectedMs: number; readonly affectedMinMs: number; readonly hostsReached: number };
  readonly rulePatch: Timing & { readonly affectedMs: number; readonly affectedMinMs: number; readonly hostsReached: number };
  readonly sliceColdMs: number;
  readonly sliceMs: number;
  readonly sliceMinMs: number;
  readonly sliceCpuMs: number;
  readonly sliceJsonMs: number;
  readonly sliceBytes: number;
  readonly compiledBytes: number;
  readonly neutronBytes: number;
  readonly sampledHosts: number;
}

interface Timing {
  readonly ms: number;
  readonly minMs: number;
  /** CPU ms per call (patch and affected). */
  readonly cpuMs: number;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function timed<T>(f: () => T): [T, number] {
  const t = performance.now();
  const r = f();
  return [r, performance.now() - t];
}

/** CPU ms of this process (all its threads) per call of `f` over `n` calls: what neighbours on a shared machine disturb least. */
function cpuPer(n: number, f: (i: number) => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) f(i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / n;
}

/** Neutron's `security_group_rules_for_devices` entry for one rule and one remote address. */
function neutronRule(group: string, r: Obj, remote: string | undefined): string {
  const d: Obj = { direction: r['direction'], ethertype: r['ethertype'] ?? 'IPv4', security_group_id: group };
  for (const k of ['protocol', 'port_range_min', 'port_range_max']) if (r[k] !== undefined) d[k] = r[k];
  const prefix = remote ?? r['remote_ip_prefix'] ?? r['source_ip_prefix'] ?? r['dest_ip_prefix'];
  if (prefix !== undefined) d[r['direction'] === 'ingress' ? 'source_ip_prefix' : 'dest_ip_prefix'] = prefix;
  return JSON.stringify(d);
}

export function measure(lib: typeof import('../../src/index.js'), ports: number, hosts: number): CloudRow {
  const model = cloudWide({ ports, hosts }) as Obj;
  const text = JSON.stringify(model);
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const [input, jsonParseMs] = timed(() => JSON.parse(text) as Obj);
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const [prepared, prepareMs] = timed(() => lib.prepare(input));
  gc();
  const preparedHeapMB = (process.memoryUsage().heapUsed - heap0) / 1e6;
  const rssMB = process.memoryUsage().rss / 1e6;
  const [, cloneMs] = timed(() => structuredClone(input));

  const groups = Object.keys(model['security_groups']).sort();
  const hostNames = lib.hosts(prepared);

  let k = 0;
  const patchRow = (ops: () => unknown[]) => {
    const patchTimes: number[] = [];
    const affectedTimes: number[] = [];
    const reached: number[] = [];
    for (let i = 0; i < 60; i++) {
      const o = ops();
      const [next, pt] = timed(() => prepared.patch(o));
      const [a, at] = timed(() => lib.affected(prepared, next));
      if (i < 10) continue; // warm-up
      patchTimes.push(pt);
      affectedTimes.push(pt + at);
      reached.push(a.hosts.length);
    }
    const cpuMs = cpuPer(50, () => lib.affected(prepared, prepared.patch(ops())));
    return {
      cpuMs,
      ms: median(patchTimes),
      minMs: Math.min(...patchTimes),
      affectedMs: median(affectedTimes),
      affectedMinMs: Math.min(...affectedTimes),
      hostsReached: median(reached),
    };
  };
  const memberPatch = patchRow(() => [{ op: 'add', path: `/sg_member_ips/${groups[k++ % groups.length]}`, value: { IPv4: [`198.51.100.${k % 250}`] } }]);
  const rulePatch = patchRow(() => [
    { op: 'add', path: `/security_groups/${groups[k++ % groups.length]}/rules/-`, value: { direction: 'ingress', protocol: 'tcp', port_range_min: 1000 + (k % 1000) } },
  ]);

  // Slices of a sample of hosts: the first one of each (cold), then again (warm).
  const sample = hostNames.filter((_, i) => i % Math.max(1, Math.floor(hostNames.length / 40)) === 0).slice(0, 40);
  const cold = sample.map((h) => timed(() => lib.slice(prepared, h))[1]);
  const warm: number[] = [];
  const json: number[] = [];
  const sliceBytes: number[] = [];
  for (const h of sample) {
    const [s, t] = timed(() => lib.slice(prepared, h));
    warm.push(t);
    const [j, jt] = timed(() => JSON.stringify(s));
    json.push(jt);
    sliceBytes.push(Buffer.byteLength(j));
  }

  // Compiled files and Neutron's expanded per-device rules, for ten of the hosts.
  const few = sample.slice(0, 10);
  const compiledBytes = few.map((h) => Object.values(prepared.compile({ host: h }).files).reduce((n, f) => n + Buffer.byteLength(f), 0));
  const neutronBytes = few.map((h) => {
    let bytes = 0;
    for (const d of Object.values(model['devices']) as Obj[]) {
      if (d['binding:host_id'] !== h || d['port_security_enabled'] === false || String(d['device_owner'] ?? '').startsWith('network:')) continue;
      for (const g of (d['security_groups'] ?? []) as string[]) {
        for (const r of model['security_groups'][g].rules as Obj[]) {
          const remote = r['remote_group_id'] as string | undefined;
          if (remote === undefined) {
            bytes += neutronRule(g, r, undefined).length + 1;
            continue;
          }
          const family = r['ethertype'] === 'IPv6' ? 6 : 4;
          const base = neutronRule(g, r, '').length + 1;
          for (const e of prepared.cloud.members.get(remote)?.ofFamily(family).entries() ?? []) bytes += base + e.length + (e.includes('/') ? 0 : family === 4 ? 3 : 4);
        }
      }
    }
    return bytes;
  });

  return {
    ports,
    hosts,
    groups: groups.length,
    cloudBytes: Buffer.byteLength(text),
    jsonParseMs,
    prepareMs,
    preparedHeapMB,
    rssMB,
    cloneMs,
    memberPatch,
    rulePatch,
    sliceColdMs: median(cold),
    sliceMs: median(warm),
    sliceMinMs: Math.min(...warm),
    sliceCpuMs: cpuPer(sample.length, (i) => lib.slice(prepared, sample[i]!)),
    sliceJsonMs: median(json),
    sliceBytes: mean(sliceBytes),
    compiledBytes: mean(compiledBytes),
    neutronBytes: mean(neutronBytes),
    sampledHosts: sample.length,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [libPath, ports, hosts] = process.argv.slice(2);
  const lib = (await import(pathToFileURL(libPath!).href)) as typeof import('../../src/index.js');
  process.stdout.write(`${JSON.stringify(measure(lib, Number(ports), Number(hosts)))}\n`);
}
