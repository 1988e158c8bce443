// How WCCP datagrams leave and arrive: a UDP socket in production (udpTransport), an in-memory
// network in tests. The router logic and the device logic never touch a socket.
//
// Contract: a transport delivers whole datagrams with the sender's address and port; send() is
// fire-and-forget (UDP) and reports failures through `onError`, never by throwing; close()
// resolves once the socket is closed, after which nothing is delivered. Binding is IPv4 only,
// as WCCPv2 over UDP is in practice (IPv6 needs the rev1 Address Table, which twinflow refuses).

import dgram from 'node:dgram';

/** An IPv4 address (dotted) and UDP port. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** One datagram to send. */
export interface WccpOutput {
  readonly datagram: Uint8Array;
  readonly to: Endpoint;
}

export interface WccpTransport {
  send(datagram: Uint8Array, to: Endpoint): void;
  close(): Promise<void>;
}

export type DatagramHandler = (datagram: Uint8Array, from: Endpoint) => void;

/** A failure after binding: of one send, or of the socket itself. */
export type TransportErrorHandler = (e: Error, during: 'send' | 'socket') => void;

/** Opens a transport that hands every received datagram to `onDatagram`. */
export type TransportFactory = (onDatagram: DatagramHandler, onError: TransportErrorHandler) => Promise<WccpTransport>;

/** A udp4 socket bound to `bind` (WCCP uses port 2048 on both sides). */
export function udpTransport(bind: Endpoint): TransportFactory {
  return (onDatagram, onError) =>
    new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: 'udp4' });
      let bound = false;
      socket.on('error', (e) => {
        if (!bound) {
          socket.close();
          reject(e);
        } else {
          onError(e, 'socket');
        }
      });
      socket.on('message', (msg, rinfo) => {
        onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), { address: rinfo.address, port: rinfo.port });
      });
      socket.bind({ address: bind.address, port: bind.port, exclusive: true }, () => {
        bound = true;
        let closed = false;
        resolve({
          send(datagram, to) {
            if (closed) return;
            socket.send(datagram, to.port, to.address, (e) => {
              if (e) onError(e, 'send');
            });
          },
          close() {
            if (closed) return Promise.resolve();
            closed = true;
            return new Promise((done) => socket.close(() => done()));
          },
        });
      });
    });
}
