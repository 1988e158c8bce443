// The device's capture: replicas written as pcapng (a file, or a stream such as stdout for
// `wireshark -k -i -`). One interface per router, with the link type of what the encapsulation
// carries (the IP packet for GRE-WCCP and sequenced GRE, the Ethernet frame for ERSPAN), so
// Wireshark shows which router each packet came from; every record keeps the original length,
// the direction the router saw it travel (epb_flags, from the replica metadata of
// docs/protocol.md) and, in a comment, the router port it entered by.
//
// Contract: writes are buffered and flushed at least every FLUSH_MS for a live reader; close()
// flushes and ends the file. Records for a router that was not declared are refused (RangeError).

import { LINKTYPE, PcapngWriter } from '../../hal/drivers/pcap/format/index.ts';
import type { ReplicaEncap } from '../../hal/drivers/sim/decap.ts';
import type { Writable } from 'node:stream';
import type { ReceivedReplica } from './receiver.ts';

/** A live reader (Wireshark on a pipe) sees packets within this. */
export const FLUSH_MS = 200;

export function linkTypeOf(encap: ReplicaEncap): number {
  return encap === 'erspan2' || encap === 'erspan3' ? LINKTYPE.ETHERNET : LINKTYPE.RAW;
}

export class PeerCapture {
  private readonly writer: PcapngWriter;
  private readonly index = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  written = 0;

  constructor(target: string | Writable, routers: readonly string[], encap: ReplicaEncap) {
    const linkType = linkTypeOf(encap);
    routers.forEach((r, i) => this.index.set(r, i));
    this.writer = new PcapngWriter(target, {
      interfaces: routers.map((r) => ({ linkType, name: `router ${r}`, description: `twinflow replicas (${encap}) from router ${r}` })),
      application: 'twinflow peer',
    });
    this.writer.flush();
    this.timer = setInterval(() => this.writer.flush(), FLUSH_MS);
    this.timer.unref();
  }

  write(r: ReceivedReplica): void {
    const interfaceId = this.index.get(r.router);
    if (interfaceId === undefined) throw new RangeError(`router ${r.router} is not one of this capture's interfaces`);
    this.writer.write({
      data: r.inner,
      origLen: r.origLen,
      tsNs: r.tsNs,
      interfaceId,
      ...(r.outbound !== undefined ? { direction: r.outbound ? 'outbound' : 'inbound' } : {}),
      ...(r.ingressPort !== undefined ? { comment: `router port ${r.ingressPort}` } : {}),
    });
    this.written++;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.writer.close();
  }
}
