import { BlockList, isIP } from 'node:net'

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/**
 * Whether `host` is a loopback address: decided on the parsed address (127.0.0.0/8, ::1, and
 * IPv4-mapped ::ffff:127.x), never on how the text starts, since a name such as
 * 127.0.0.1.nip.io resolves wherever its owner points it. The one name taken for loopback is
 * `localhost` (RFC 6761 reserves it for loopback); every other name is not.
 */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true
  const family = isIP(host)
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6')
}
