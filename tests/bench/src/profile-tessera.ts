// Ad-hoc profiling helper (not part of `npm run bench`): runs one Tessera batch and counts the
// PostgreSQL transactions/rows and Redis commands it cost. Services can be CPU-profiled by
// preloading an inspector script through NODE_OPTIONS=--require (--cpu-prof is refused there).
// Usage: node --import tsx tests/bench/src/profile-tessera.ts <count> <bytes>
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { startTessera, type BigFile } from './targets';

const pgStats = (url: string) => {
  const db = new URL(url).pathname.slice(1);
  const out = execFileSync('psql', [url, '-Atc', `select xact_commit, tup_fetched, tup_returned, tup_inserted, tup_updated, tup_deleted from pg_stat_database where datname = '${db}'`], { encoding: 'utf8' });
  const [commits, fetched, returned, inserted, updated, deleted] = out.trim().split('|').map(Number);
  return { commits, fetched, returned, inserted, updated, deleted } as Record<string, number>;
};
const tableStats = (url: string) => {
  const out = execFileSync('psql', [url, '-Atc', 'select relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0) from pg_stat_user_tables'], { encoding: 'utf8' });
  const stats: Record<string, number> = {};
  for (const line of out.trim().split('\n')) {
    const [name, seq, read, idx] = line.split('|');
    Object.assign(stats, { [`${name}.seq_scan`]: Number(seq), [`${name}.seq_tup_read`]: Number(read), [`${name}.idx_scan`]: Number(idx) });
  }
  return stats;
};
const redisStats = () => {
  const out = execFileSync('redis-cli', ['info', 'commandstats'], { encoding: 'utf8' });
  const stats: Record<string, number> = {};
  for (const m of out.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) stats[m[1]!] = Number(m[2]);
  return stats;
};
/** CPU seconds used so far by processes, grouped by a name: user time, and system time as `<name>.sys`. */
const cpuSeconds = (groups: Record<string, (pid: number, comm: string) => boolean>) => {
  const out: Record<string, number> = Object.fromEntries(Object.keys(groups).map((g) => [g, 0]));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      for (const [g, test] of Object.entries(groups)) {
        if (!test(Number(entry), comm)) continue;
        out[g] = (out[g] ?? 0) + Number(fields[11]) / 100;
        out[`${g}.sys`] = (out[`${g}.sys`] ?? 0) + Number(fields[12]) / 100;
      }
    } catch {
      // gone
    }
  }
  return out;
};
const delta = (a: Record<string, number>, b: Record<string, number>, per: number) =>
  Object.fromEntries(Object.entries(b).map(([k, v]) => [k, +((v - (a[k] ?? 0)) / per).toFixed(2)]).filter(([, v]) => v !== 0));

async function main(): Promise<void> {
  // "big <bytes>": one file sent like the big-file scenario; otherwise a batch of <count> uploads of <bytes>
  const bigMode = process.argv[2] === 'big';
  const count = bigMode ? 1 : Number(process.argv[2] ?? 1000);
  const size = Number(process.argv[3] ?? 65536);
  const tessera = await startTessera();
  try {
    const batch = bigMode ? [] : Array.from({ length: count }, () => randomBytes(size));
    let big: BigFile | undefined;
    if (bigMode) {
      const path = join(tmpdir(), `profile-big-${process.pid}.bin`);
      const fd = openSync(path, 'w');
      const hash = createHash('sha256');
      for (let offset = 0; offset < size; offset += 8 << 20) {
        const part = randomBytes(Math.min(8 << 20, size - offset));
        hash.update(part);
        writeSync(fd, part);
      }
      closeSync(fd);
      big = { path, size, sha256: hash.digest('hex') };
    }
    await new Promise((r) => setTimeout(r, 1500));
    const pg0 = pgStats(tessera.stack.databaseUrl);
    const tables0 = tableStats(tessera.stack.databaseUrl);
    const redis0 = redisStats();
    const pids = tessera.pids();
    const groups: Record<string, (pid: number, comm: string) => boolean> = {
      ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, (p: number) => p === pid])),
      client: (p) => p === process.pid,
      postgres: (_p, comm) => comm.startsWith('postgres'),
      redis: (_p, comm) => comm.startsWith('redis'),
    };
    const cpu0 = cpuSeconds(groups);
    const t0 = performance.now();
    const results = big ? [] : await tessera.uploadMany(batch);
    if (big) await tessera.uploadBig(big);
    const s = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1500));
    const redis1 = redisStats();
    const cpu1 = cpuSeconds(groups);
    const pg1 = pgStats(tessera.stack.databaseUrl);
    const tables1 = tableStats(tessera.stack.databaseUrl);
    const progress = results.flatMap((r) => (r.progressMs === undefined ? [] : [r.progressMs])).sort((a, b) => a - b);
    process.stdout.write(`${bigMode ? `${(size / 1e6 / s).toFixed(0)} MB/s, ` : ''}${results.filter((r) => r.ok).length}/${count} ok, ${(count / s).toFixed(0)} uploads/s, progress p50 ${progress[progress.length >> 1]?.toFixed(0)} ms\n`);
    process.stdout.write(`CPU ms per upload: ${JSON.stringify(delta(cpu0, cpu1, count / 1000))} (wall ${(s * 1000 / count).toFixed(1)} ms per upload)\n`);
    process.stdout.write(`per upload, PostgreSQL: ${JSON.stringify(delta(pg0, pg1, count))}\nper upload, table scans: ${JSON.stringify(delta(tables0, tables1, count))}\nper upload, Redis commands: ${JSON.stringify(delta(redis0, redis1, count))}\n`);
  } finally {
    if (bigMode) rmSync(join(tmpdir(), `profile-big-${process.pid}.bin`), { force: true });
    await tessera.stop();
  }
}
void main();
