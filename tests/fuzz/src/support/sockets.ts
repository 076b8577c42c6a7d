import { io, type Socket } from 'socket.io-client';

const EVENT_TYPES = ['chunk.stored', 'chunk.rejected', 'upload.progress', 'upload.completed', 'upload.failed', 'upload.aborted', 'upload.expired'] as const;

export interface UploadEvent {
  type: string;
  uploadId: string;
  seq: number;
  [field: string]: unknown;
}

export interface Ack {
  ok: boolean;
  upload?: { id: string; seq: number; state: string };
  error?: { type: string; detail?: string };
}

let messages = 0;

/** Socket.IO messages this test file sent so far. */
export function socketMessagesSent(): number {
  return messages;
}

/** A Socket.IO client that records every upload event it is sent and counts what it sends. */
export class Watcher {
  readonly events: UploadEvent[] = [];

  private constructor(readonly socket: Socket) {
    for (const type of EVENT_TYPES) socket.on(type, (event: Omit<UploadEvent, 'type'>) => this.events.push({ ...event, type } as UploadEvent));
  }

  /** Connects, or rejects with the server's connect_error. */
  static connect(url: string, options: { auth?: unknown; headers?: Record<string, string> }): Promise<Watcher> {
    const socket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(options.auth !== undefined ? { auth: options.auth as Record<string, unknown> } : {}),
      ...(options.headers ? { extraHeaders: options.headers } : {}),
    });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new Watcher(socket)));
      socket.once('connect_error', (error: Error & { data?: unknown }) => {
        socket.close();
        reject(error);
      });
      // A handshake the server cannot even parse is refused by closing the connection. The
      // client delivers packets a tick late, so a connect_error sent before the close wins.
      socket.io.once('close', () => setTimeout(() => reject(new Error('connection closed')), 100));
    });
  }

  /** Emits `event` with `args` and waits for its acknowledgement. */
  ask(event: string, ...args: unknown[]): Promise<Ack> {
    messages += 1;
    return this.socket.timeout(10_000).emitWithAck(event, ...args) as Promise<Ack>;
  }

  subscribe(uploadId: unknown): Promise<Ack> {
    return this.ask('subscribe', { uploadId });
  }

  /** Emits without asking for an acknowledgement (the client may not want one). */
  tell(event: string, ...args: unknown[]): void {
    messages += 1;
    this.socket.emit(event, ...args);
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Resolves with the first matching event, seen or coming. */
  waitFor(test: (event: UploadEvent) => boolean, timeoutMs = 30_000): Promise<UploadEvent> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; saw ${JSON.stringify(this.events.slice(-5))}`)), timeoutMs);
      const check = () => {
        const found = this.events.find(test);
        if (!found) return;
        clearTimeout(timer);
        for (const type of EVENT_TYPES) this.socket.off(type, check);
        resolve(found);
      };
      for (const type of EVENT_TYPES) this.socket.on(type, check);
    });
  }

  close(): void {
    this.socket.close();
  }
}
