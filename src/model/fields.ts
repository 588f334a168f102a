/**
 * The fields each object of the model understands, the extra fields of real Neutron payloads
 * that are accepted silently, and "did you mean": an unknown key within two edits of a field is
 * taken for a misspelling of it.
 */

export interface FieldTable {
  /** Fields the parser reads. */
  readonly fields: readonly string[];
  /** Other fields of Neutron's payloads, accepted without a warning. */
  readonly extra: readonly string[];
}

const table = (fields: readonly string[], extra: readonly string[] = []): FieldTable => ({ fields, extra });

export const TOP_FIELDS = table(
  ['security_groups', 'address_groups', 'sg_member_ips', 'devices', 'options'],
  ['security_group_source_groups', 'remote_address_group_ids'],
);
export const GROUP_FIELDS = table(
  ['stateful', 'rules', 'security_group_rules'],
  ['id', 'name', 'description', 'tenant_id', 'project_id', 'created_at', 'updated_at', 'revision_number', 'tags', 'shared', 'standard_attr_id'],
);
export const RULE_FIELDS = table(
  [
    'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix',
    'remote_group_id', 'remote_address_group_id', 'source_ip_prefix', 'dest_ip_prefix', 'stateful',
  ],
  [
    'id', 'security_group_id', 'tenant_id', 'project_id', 'description', 'created_at', 'updated_at',
    'revision_number', 'tags', 'normalized_cidr', 'belongs_to_default_sg', 'name', 'standard_attr_id',
  ],
);
export const DEVICE_FIELDS = table(
  [
    'device', 'mac_address', 'fixed_ips', 'allowed_address_pairs', 'security_groups',
    'port_security_enabled', 'device_owner', 'network_id', 'binding:host_id', 'conntrack_zone',
  ],
  [
    'id', 'name', 'tenant_id', 'project_id', 'admin_state_up', 'status', 'description', 'created_at',
    'updated_at', 'revision_number', 'tags', 'extra_dhcp_opts', 'binding:vnic_type', 'binding:profile',
    'binding:vif_type', 'binding:vif_details', 'device_id', 'security_group_rules',
    'security_group_source_groups', 'sg_provider_rules', 'qos_policy_id', 'qos_network_policy_id',
    'dns_name', 'dns_assignment', 'dns_domain', 'ip_allocation', 'propagate_uplink_status',
    'mac_learning_enabled', 'port_security', 'standard_attr_id', 'resource_request', 'numa_affinity_policy',
    'data_plane_status', 'hints', 'trunk_details', 'network_type', 'physical_network', 'segmentation_id',
  ],
);
export const PAIR_FIELDS = table(['ip_address', 'mac_address']);
export const FIXED_IP_FIELDS = table(['ip_address', 'subnet_id']);
export const ADDRESS_GROUP_FIELDS = table(
  ['addresses'],
  ['id', 'name', 'description', 'tenant_id', 'project_id', 'created_at', 'updated_at', 'revision_number', 'tags'],
);
export const OPTION_FIELDS = table(['firewall_driver', 'enable_ipset']);

/** The field an unknown key is a misspelling of (within two edits, case ignored), if any. */
export function nearestField(key: string, t: FieldTable): string | undefined {
  const k = key.toLowerCase();
  // Lengths further apart than two are more than two edits: no table of a long key.
  return t.fields.find((f) => Math.abs(k.length - f.length) <= 2 && editDistance(k, f) <= 2);
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return dp[b.length]!;
}
