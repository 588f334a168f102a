/** How many generated models each property checks (SGNF_PROPERTY_RUNS overrides, e.g. 5000). */
export const RUNS = Number(process.env['SGNF_PROPERTY_RUNS'] ?? 200);

/** Every remote-group mode with every driver: the properties must hold in all four. */
export const MODES = [
  { remoteGroups: 'ipset', driver: 'hybrid' },
  { remoteGroups: 'expanded', driver: 'hybrid' },
  { remoteGroups: 'ipset', driver: 'linuxbridge' },
  { remoteGroups: 'expanded', driver: 'linuxbridge' },
] as const;
