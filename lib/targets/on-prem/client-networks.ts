import { NetworkAccess } from '../../spec/access';
import { Problems } from '../../spec/check';
import { CIDR_PATTERN, MAX_CLIENT_CIDRS, PRIVATE_CLIENT_CIDRS, PUBLIC_CLIENT_CIDRS, contractKey } from './host-contract';
import { OnPremTargetOptions } from './options';

/**
 * What `access.network` means on hosts: the source addresses each host's proxy answers
 * (`MD_ALLOWED_CLIENTS`), and the refusals that keep PRIVATE private and PUBLIC encrypted. Pure
 * functions over the options; the addresses are compared as numbers, never as text.
 */

/** One network: its family, its first address as a number and its prefix length. */
interface Network {
  readonly v6: boolean;
  readonly first: bigint;
  readonly prefix: number;
}

const ONE_CIDR = new RegExp(`^${CIDR_PATTERN}$`);
const ADDRESS = new RegExp(contractKey('MD_PROXY_BIND').pattern);
const PRIVATE_NETWORKS = PRIVATE_CLIENT_CIDRS.map(c => parseCidr(c)!);
const PRIVATE_LIST = PRIVATE_CLIENT_CIDRS.join(', ');

/** An address as the host contract writes it (no brackets, zone or dotted IPv6 tail), or undefined. */
function parseAddress(text: string): { v6: boolean; value: bigint } | undefined {
  if (!ADDRESS.test(text)) return undefined;
  if (!text.includes(':')) return { v6: false, value: text.split('.').reduce((n, octet) => (n << 8n) | BigInt(octet), 0n) };
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return { v6: true, value: all.reduce((n, group) => (n << 16n) | BigInt(`0x${group}`), 0n) };
}

/** A CIDR of the contract's shape, or undefined: its network, and the address as written (host bits and all). */
function parseCidr(text: string): (Network & { address: bigint }) | undefined {
  if (!ONE_CIDR.test(text)) return undefined;
  const slash = text.lastIndexOf('/');
  const address = parseAddress(text.slice(0, slash))!;
  const prefix = Number(text.slice(slash + 1));
  const bits = address.v6 ? 128n : 32n;
  const hostMask = (1n << (bits - BigInt(prefix))) - 1n;
  return { v6: address.v6, first: address.value & ~hostMask, prefix, address: address.value };
}

function contains(outer: Network, inner: Network): boolean {
  if (outer.v6 !== inner.v6 || inner.prefix < outer.prefix) return false;
  const bits = outer.v6 ? 128n : 32n;
  return inner.first >> (bits - BigInt(outer.prefix)) === outer.first >> (bits - BigInt(outer.prefix));
}

function insidePrivateRanges(network: Network): boolean {
  return PRIVATE_NETWORKS.some(p => contains(p, network));
}

/** A network's first address as text (IPv6 with its longest run of zero groups as ::, RFC 5952). */
function format(network: Network): string {
  if (!network.v6) return [24n, 16n, 8n, 0n].map(s => String((network.first >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((network.first >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.length) best = { at: i, length: j - i };
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.length).join(':')}`;
}

/** The source addresses the hosts' proxies answer (`MD_ALLOWED_CLIENTS`): the option, or the network's default. */
export function allowedClientCidrs(network: NetworkAccess, options: OnPremTargetOptions): readonly string[] {
  return options.allowedClientCidrs ?? (network === NetworkAccess.PUBLIC ? PUBLIC_CLIENT_CIDRS : PRIVATE_CLIENT_CIDRS);
}

/**
 * Records every refusal of the network options: with PRIVATE, `allowedClientCidrs` may only
 * narrow the private ranges and `proxyBindAddress` may not be a public address; PUBLIC needs
 * `tls`. Each CIDR is well-formed, its network address, and listed once. Expects
 * checkOptionShapes to have passed.
 */
export function checkClientAccess(problems: Problems, network: NetworkAccess, options: OnPremTargetOptions): void {
  const isPrivate = network !== NetworkAccess.PUBLIC;
  if (!isPrivate && options.tls === undefined) {
    problems.add('tls', undefined,
      'certificatePath and keyPath of a certificate on the hosts: access.network is PUBLIC, and without TLS the API keys (and the requests) would cross networks in clear text');
  }
  checkBindAddress(problems, isPrivate, options.proxyBindAddress);
  const cidrs = options.allowedClientCidrs;
  if (cidrs === undefined) return;
  if (cidrs.length === 0) {
    problems.add('allowedClientCidrs', cidrs, `at least one CIDR; leave allowedClientCidrs out for the default (${isPrivate ? `the private ranges: ${PRIVATE_LIST}` : 'every address'})`);
  }
  if (cidrs.length > MAX_CLIENT_CIDRS) {
    problems.add('allowedClientCidrs', `${cidrs.length} CIDRs`, `at most ${MAX_CLIENT_CIDRS} CIDRs (group neighbouring networks into shorter prefixes)`);
  }
  const seen = new Map<string, number>();
  cidrs.forEach((cidr, i) => {
    const field = `allowedClientCidrs[${i}]`;
    const parsed = parseCidr(cidr);
    if (parsed === undefined) {
      problems.add(field, cidr, 'an IPv4 or IPv6 CIDR, address/prefix length, such as 10.20.0.0/16, 192.168.1.7/32 or fd00::/8 (no brackets, zone or embedded IPv4 in IPv6)');
      return;
    }
    if (parsed.address !== parsed.first) {
      problems.add(field, cidr, `the network address of the range: ${format(parsed)}/${parsed.prefix} (this one has host bits set; for a single address use /${parsed.v6 ? 128 : 32})`);
      return;
    }
    if (isPrivate && !insidePrivateRanges(parsed)) {
      problems.add(field, cidr,
        `a CIDR inside the private ranges (${PRIVATE_LIST}) while access.network is PRIVATE; to admit public addresses, set access.network to NetworkAccess.PUBLIC (which requires tls)`);
      return;
    }
    const key = `${parsed.v6}/${parsed.first}/${parsed.prefix}`;
    if (seen.has(key)) problems.add(field, cidr, `each network once (allowedClientCidrs[${seen.get(key)}] is the same network)`);
    seen.set(key, i);
  });
}

/** With PRIVATE, the proxy binds every interface (0.0.0.0, ::) or a private address, never a public one. */
function checkBindAddress(problems: Problems, isPrivate: boolean, bind: string | undefined): void {
  if (!isPrivate || bind === undefined) return;
  const address = parseAddress(bind);
  // A malformed address is the host contract's refusal (MD_PROXY_BIND).
  if (address === undefined || address.value === 0n) return;
  if (!insidePrivateRanges({ v6: address.v6, first: address.value, prefix: address.v6 ? 128 : 32 })) {
    problems.add('proxyBindAddress', bind,
      `0.0.0.0, :: or an address inside the private ranges (${PRIVATE_LIST}) while access.network is PRIVATE; to serve on a public address, set access.network to NetworkAccess.PUBLIC (which requires tls)`);
  }
}
