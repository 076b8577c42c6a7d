import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../e2e/src/support/stack';
import { sleep } from './processes';

/** Sends one inline command and resolves with the first reply line, or rejects when nothing listens. */
function command(port: number, line: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(new Error(`no reply to ${line} within ${timeoutMs} ms`)), timeoutMs);
    let reply = '';
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('\r\n')) socket.end();
    });
    socket.once('error', (error) => (clearTimeout(timer), reject(error)));
    // SHUTDOWN answers nothing: the server just closes the connection.
    socket.once('close', () => (clearTimeout(timer), resolve(reply.split('\r\n')[0] ?? '')));
  });
}

/**
 * A redis-server of this test's own, on a free port, so stopping it disturbs nothing else.
 * It keeps no snapshot while running (`--save ""`, no AOF); `stop` saves one on the way
 * down and `start` loads it, as an operator's restart of a persistent Redis would.
 */
export class PrivateRedis {
  private child: ChildProcess | null = null;
  private output: string[] = [];

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async create(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), mkdtempSync(join(tmpdir(), 'tessera-redis-')));
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  logs(): string {
    return this.output.join('');
  }

  async start(timeoutMs = 10_000): Promise<void> {
    if (this.running) throw new Error('redis-server is already running');
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--dbfilename', 'dump.rdb'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d: Buffer) => this.output.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => this.output.push(d.toString()));
    this.child = child;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // LOADING while it reads the snapshot: only PONG means it serves.
      if ((await command(this.port, 'PING').catch(() => '')) === '+PONG') return;
      if (!this.running) throw new Error(`redis-server exited at start:\n${this.logs()}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer within ${timeoutMs} ms:\n${this.logs()}`);
      await sleep(20);
    }
  }

  /** SHUTDOWN SAVE: clients see their connections close and every reconnect refused until `start`. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await command(this.port, 'SHUTDOWN SAVE').catch(() => child.kill('SIGTERM'));
    await exited;
  }

  async destroy(): Promise<void> {
    if (this.running) {
      const child = this.child!;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
