import { connect } from 'node:net';
import { countRequest } from './http-client';

/** What node:http will not send: lying Content-Length, duplicate headers, bodies that stop. */
export interface RawPlan {
  /** Request line and header lines, without the blank line that ends them. */
  lines: string[];
  body?: Buffer;
  /** Send only this many bytes of the body, then go away. */
  cut?: { afterBytes: number; how: 'destroy' | 'half-close'; delayMs?: number };
  /** Answers to wait for (more than one when a body overflows into a "next request"). */
  answers?: number;
}

export interface RawAnswer {
  status: number;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

export interface RawOutcome {
  answers: RawAnswer[];
  /** True once the server closed the connection. */
  closed: boolean;
}

const WAIT_MS = 5_000;

/** Sends bytes exactly as planned over a fresh TCP connection and reads what comes back. */
export function rawExchange(baseUrl: string, plan: RawPlan): Promise<RawOutcome> {
  countRequest();
  const url = new URL(baseUrl);
  const wanted = plan.answers ?? 1;
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = Buffer.alloc(0);
    let closed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ answers: parseAnswers(received, closed).answers, closed });
    };
    const timer = setTimeout(finish, WAIT_MS);
    socket.on('error', () => undefined);
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const parsed = parseAnswers(received, false);
      if (parsed.answers.length >= wanted && parsed.complete) finish();
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });

    const head = Buffer.from(`${plan.lines.join('\r\n')}\r\n\r\n`, 'latin1');
    const body = plan.body ?? Buffer.alloc(0);
    if (!plan.cut) {
      socket.write(Buffer.concat([head, body]));
      return;
    }
    const { afterBytes, how, delayMs = 0 } = plan.cut;
    socket.write(Buffer.concat([head, body.subarray(0, afterBytes)]));
    setTimeout(() => {
      if (how === 'half-close') {
        socket.end();
      } else {
        socket.destroy();
        // Nobody can read an answer on a connection this side tore down.
        finish();
      }
    }, delayMs);
  });
}

/** Splits a byte stream into HTTP/1.1 responses; `complete` is false while the last is still arriving. */
function parseAnswers(data: Buffer, ended: boolean): { answers: RawAnswer[]; complete: boolean } {
  const answers: RawAnswer[] = [];
  let offset = 0;
  while (offset < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', offset, 'latin1');
    if (headEnd < 0) return { answers, complete: false };
    const [statusLine = '', ...headerLines] = data.subarray(offset, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let cursor = headEnd + 4;
    let body: Buffer;
    if (status === 100 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const pieces: Buffer[] = [];
      for (;;) {
        const sizeEnd = data.indexOf('\r\n', cursor, 'latin1');
        if (sizeEnd < 0) return { answers, complete: false };
        const size = parseInt(data.subarray(cursor, sizeEnd).toString('latin1'), 16);
        if (data.length < sizeEnd + 2 + size + 2) return { answers, complete: false };
        pieces.push(data.subarray(sizeEnd + 2, sizeEnd + 2 + size));
        cursor = sizeEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(pieces);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (data.length < cursor + length) return { answers, complete: false };
      body = data.subarray(cursor, cursor + length);
      cursor += length;
    } else {
      // No framing: the body runs until the server closes the connection.
      body = data.subarray(cursor);
      cursor = data.length;
      if (!ended && body.length > 0) return { answers, complete: false };
    }
    if (status !== 100) answers.push({ status, headers, body, text: body.toString('utf8') });
    offset = cursor;
  }
  return { answers, complete: true };
}
