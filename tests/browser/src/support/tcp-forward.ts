import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpForward {
  port: number;
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /** Where connections go from now on; until it is set, they are closed at once. */
  to(port: number, host?: string): void;
  close(): Promise<void>;
}

/**
 * A plain TCP forwarder on 127.0.0.1, standing in for a proxy or Ingress: it listens before
 * it knows where to forward, so its address can be given to a service (a public URL) that
 * is started before the service it fronts.
 */
export async function forwardTcp(port = 0): Promise<TcpForward> {
  let target: { port: number; host: string } | null = null;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    if (!target) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    origin: `http://127.0.0.1:${actual}`,
    to(targetPort, host = '127.0.0.1') {
      target = { port: targetPort, host };
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => ok());
      }),
  };
}
