/**
 * The model as one host sees it: only the devices bound to the host (all of them without a host)
 * are local ports, while every device still counts as a member of its groups. Checks what must
 * be unique on one host: device names and pinned conntrack zones.
 */
import { printable } from '../net/ip.js';
import { ModelError, child } from './errors.js';
import { Collector } from './input.js';
import type { CloudModel } from './parse.js';
import type { Model, Port } from './types.js';

export function selectHost(cloud: CloudModel, host: string | undefined): Model {
  // A cloud model never changes: each host's view is made once (a diff asks for the old one
  // again at every change, and walking a host's ports costs as much as the change itself).
  let views = selected.get(cloud);
  if (views === undefined) selected.set(cloud, (views = new Map()));
  const key = host ?? ALL_HOSTS;
  let view = views.get(key);
  if (view === undefined) views.set(key, (view = select(cloud, host)));
  return view;
}

/** Each cloud model's host views, by host (ALL_HOSTS: compiled without --host). */
const selected = new WeakMap<CloudModel, Map<string | typeof ALL_HOSTS, Model>>();
const ALL_HOSTS = Symbol('all hosts');

function select(cloud: CloudModel, host: string | undefined): Model {
  const c = new Collector();
  let candidates = cloud.ports;
  if (host !== undefined) {
    for (const port of cloud.unboundPorts) {
      c.error('required', child(child('$.devices', port.id), 'binding:host_id'), `is required when compiling for a host (--host ${printable(host)})`);
    }
    candidates = cloud.portsByHost.get(host) ?? [];
  }
  const devicesSeen = new Map<string, string>();
  const zonesSeen = new Map<number, string>();
  const ports: Port[] = [];
  for (const port of candidates) {
    // Built only for a message: this loop runs for every port of every host compiled.
    const path = (): string => child('$.devices', port.id);
    const other = devicesSeen.get(port.device);
    if (other !== undefined) {
      const given = cloud.namedDevices.has(port.id);
      c.error(
        'duplicate-device',
        given ? child(path(), 'device') : path(),
        `device name "${port.device}"${given ? '' : ' (derived from the port id)'} is already used by port "${other}"`,
      );
    } else devicesSeen.set(port.device, port.id);
    if (port.pinnedZone !== undefined) {
      const z = zonesSeen.get(port.pinnedZone);
      if (z !== undefined) c.error('zone-conflict', child(path(), 'conntrack_zone'), `zone ${port.pinnedZone} is already pinned by port "${z}"`);
      else zonesSeen.set(port.pinnedZone, port.id);
    }
    ports.push(port);
  }
  if (c.issues.length > 0) throw new ModelError(c.issues);
  const { groups, addressGroups, members, options, diagnostics } = cloud;
  return { groups, addressGroups, members, ports, options, diagnostics };
}
