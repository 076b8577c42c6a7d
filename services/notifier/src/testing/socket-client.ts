// Test code only: a Socket.IO client with the helpers the notifier's tests share.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { io, type Socket } from 'socket.io-client';

export type ClientSocket = Socket;

export function urlOf(server: Server): string {
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
}

/** Connects and resolves once connected; rejects with the connect_error. */
export function connect(url: string, options: { token?: string; headers?: Record<string, string> } = {}): Promise<ClientSocket> {
  const socket = io(url, {
    ...(options.token === undefined ? {} : { auth: { token: options.token } }),
    ...(options.headers ? { extraHeaders: options.headers } : {}),
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Every event the socket receives, in arrival order. */
export function recordEvents(socket: ClientSocket): Array<{ name: string; payload: unknown }> {
  const received: Array<{ name: string; payload: unknown }> = [];
  socket.onAny((name: string, payload: unknown) => received.push({ name, payload }));
  return received;
}

export async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
