/**
 * Kernel and tool limits that shape the output, each with the reason it exists (their sources:
 * docs/netfilter.md §5).
 * Every name, comment and size the compiler emits is checked against these; nothing
 * is ever silently truncated.
 */

/** iptables chain names: the kernel's XT_EXTENSION_MAXNAMELEN (29) minus the NUL. */
export const IPTABLES_CHAIN_NAME_MAX = 28;

/** ipset set names: IPSET_MAXNAMELEN (32) minus the NUL. */
export const IPSET_NAME_MAX = 31;

/**
 * ipset `maxelem`. `create -exist` refuses an existing set whose maxelem differs, so the
 * value must not depend on the member count or a reload after growth would fail half-way.
 * The kernel allocates by entries actually stored, not by maxelem, so a high fixed ceiling
 * costs nothing; sets larger than this are refused at compile time.
 */
export const IPSET_MAXELEM = 16_777_216;

/** ipset rounds `hashsize` up to a power of two, minimum 64. */
export const IPSET_HASHSIZE_MIN = 64;
/** Upper bound we ask for: buckets beyond this only waste kernel memory up front. */
export const IPSET_HASHSIZE_MAX = 1_048_576;

/** xt_comment: longer comments are silently truncated by the kernel, so we refuse them. */
export const IPTABLES_COMMENT_MAX = 255;

/** Linux interface names: IFNAMSIZ (16) minus the NUL. */
export const IFNAME_MAX = 15;

/** nft table/chain/set names (NFT_NAME_MAXLEN 256 minus the NUL). */
export const NFT_NAME_MAX = 255;
/**
 * nft comments: user-space limit of nft 1.0.x (NFT_USERDATA_MAXLEN 128). Comments name ids of up
 * to MODEL_ID_MAX characters, so the nft layout falls back to shorter texts (a rule's index
 * instead of its id); a longer text is refused, never cut.
 */
export const NFT_COMMENT_MAX = 128;

/** Conntrack zones: Neutron starts at 4097 to stay clear of zones other tools use; u16 ends at 65535. */
export const CT_ZONE_MIN = 4097;
export const CT_ZONE_MAX = 65535;

/** Ids from the model reach comments and names; bounded so every comment stays under the limits. */
export const MODEL_ID_MAX = 100;

/** Chain-name prefix ("neutron-openvswi" is 16): leaves room for readable per-port suffixes. */
export const CHAIN_PREFIX_MAX = 16;
