import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, openSync, closeSync, writeSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RssSampler, rssOf } from './rss';
import { percentile, summarize, type Summary } from './stats';
import { startCeiling, startTessera, startTus, type BigFile, type Target, type TargetName } from './targets';
import { renderMarkdown, renderSvg } from './report';

const MiB = 1024 * 1024;
const ROOT = join(__dirname, '..', '..', '..');

export interface BenchOptions {
  quick?: boolean;
  rounds?: number;
  /** Where bench/results go; default <repo>/bench/results. */
  outDir?: string;
  log?: (line: string) => void;
  /** chunk-worker processes of the Tessera target (default 1). */
  workers?: number;
  /** Scenario ids to run (`big-file`, `many-1MiB`, `many-64KiB`); default all. `progress-latency` comes with `many-1MiB`. */
  only?: string[];
}

export const SCENARIOS = ['big-file', 'many-1MiB', 'many-64KiB'] as const;

/** A column of the report: a target, or a target in a variant (tus with one PATCH). */
/** `tessera-tus`: Tessera's own tus endpoint driven by tus-js-client, as the tus columns are. */
export type Column = 'tessera' | 'tessera-tus' | 'tus' | 'tus-1patch' | 'ceiling';

export interface ScenarioResult {
  id: string;
  title: string;
  /** metric name → column → summary over rounds */
  metrics: Record<string, Partial<Record<Column, Summary>>>;
  failures: Partial<Record<Column, number>>;
  /** column → process → peak VmRSS over all rounds, bytes */
  peakRss: Partial<Record<Column, Record<string, number>>>;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  durationS: number;
  mode: 'quick' | 'full';
  rounds: number;
  /** chunk-worker processes of the Tessera target. */
  workers?: number;
  machine: { node: string; cpus: number; cpuModel: string };
  sizes: { bigBytes: number; mediumCount: number; mediumBytes: number; smallCount: number; smallBytes: number; refBytes: number };
  notes: string[];
  scenarios: ScenarioResult[];
  /** Gateway VmRSS before and at peak during one reference upload (run first) and during the big-file scenario. */
  gatewayRss: { refUploadBytes: number; refStartRss: number; refPeakRss: number; bigUploadBytes: number; bigStartRss: number; bigPeakRss: number };
}

/** Writes a file of `size` random bytes without holding more than 8 MiB of it. */
function makeBigFile(dir: string, size: number): string {
  const path = join(dir, `big-${size}.bin`);
  const fd = openSync(path, 'w');
  for (let offset = 0; offset < size; offset += 8 * MiB) writeSync(fd, randomBytes(Math.min(8 * MiB, size - offset)));
  closeSync(fd);
  return path;
}

/** Makes every MiB of the file new (so no content-addressed store can skip it), then hashes it. */
async function refreshBigFile(path: string, size: number): Promise<BigFile> {
  const fd = openSync(path, 'r+');
  for (let offset = 0; offset < size; offset += MiB) writeSync(fd, randomBytes(32), 0, 32, offset);
  closeSync(fd);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return { path, size, sha256: hash.digest('hex') };
}

/** `count` distinct buffers of `size` bytes: one random body, each with its own random head. */
function makeBatch(count: number, size: number): Buffer[] {
  const base = randomBytes(size);
  return Array.from({ length: count }, () => {
    const copy = Buffer.from(base);
    randomBytes(Math.min(32, size)).copy(copy, 0);
    return copy;
  });
}

const mergePeaks = (into: Record<string, number> | undefined, peaks: Record<string, number>) => {
  const out = { ...(into ?? {}) };
  for (const [k, v] of Object.entries(peaks)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
};

export async function runBench(options: BenchOptions = {}): Promise<{ report: BenchReport; jsonPath: string; mdPath: string; svgPath: string }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const quick = options.quick ?? false;
  const rounds = options.rounds ?? (quick ? 1 : 3);
  const workers = options.workers ?? 1;
  const unknown = (options.only ?? []).filter((id) => !(SCENARIOS as readonly string[]).includes(id));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  const runs = (id: (typeof SCENARIOS)[number]) => options.only === undefined || options.only.length === 0 || options.only.includes(id);
  const sizes = quick
    ? { bigBytes: 32 * MiB, mediumCount: 20, mediumBytes: MiB, smallCount: 50, smallBytes: 64 * 1024, refBytes: 8 * MiB }
    : { bigBytes: 1024 * MiB, mediumCount: 200, mediumBytes: MiB, smallCount: 1000, smallBytes: 64 * 1024, refBytes: 64 * MiB };
  const started = new Date();
  const work = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const targets: Target[] = [];
  const scenarios: ScenarioResult[] = [];
  const gatewayRss = { refUploadBytes: sizes.refBytes, refStartRss: 0, refPeakRss: 0, bigUploadBytes: sizes.bigBytes, bigStartRss: 0, bigPeakRss: 0 };

  try {
    log(`starting targets (${quick ? 'quick' : 'full'} mode, ${rounds} round(s)${workers > 1 ? `, ${workers} chunk-workers` : ''})`);
    const tessera = await startTessera({ workers });
    targets.push(tessera, await startTus(), await startCeiling());
    const byName = (name: TargetName) => targets.find((t) => t.name === name)!;
    /** The order of columns changes each round (A B C, B C A, …) so no target always goes first. */
    const rotate = <T>(items: T[], round: number) => items.map((_, i) => items[(i + round) % items.length]!);

    // ---- scenario 5 (run first, on a fresh gateway): gateway RSS for a reference upload, compared below with the big one
    if (runs('big-file')) {
      const path = makeBigFile(work, sizes.refBytes);
      const file = await refreshBigFile(path, sizes.refBytes);
      gatewayRss.refStartRss = rssOf(tessera.pids().gateway ?? 0);
      const sampler = new RssSampler(tessera.pids());
      await tessera.uploadBig(file);
      const peaks = sampler.stop();
      gatewayRss.refPeakRss = peaks.gateway ?? 0;
      await tessera.cleanup();
      rmSync(path, { force: true });
      log(`  gateway RSS during a ${sizes.refBytes / MiB} MiB upload: ${(gatewayRss.refStartRss / MiB).toFixed(0)} → peak ${(gatewayRss.refPeakRss / MiB).toFixed(0)} MiB`);
    }
    // ---- scenario 1: one big file
    if (runs('big-file')) {
      const result: ScenarioResult = { id: 'big-file', title: `one ${sizes.bigBytes / MiB} MiB file, first byte to completion`, metrics: { 'MB/s': {}, seconds: {}, 'last 202 → completed, s': {} }, failures: {}, peakRss: {} };
      const path = makeBigFile(work, sizes.bigBytes);
      const columns: Column[] = ['tessera', 'tessera-tus', 'tus', 'tus-1patch', 'ceiling'];
      const samples: Partial<Record<Column, { mbs: number[]; s: number[] }>> = {};
      const tails: number[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const column of rotate(columns, round)) {
          const target = byName(column === 'tus-1patch' ? 'tus' : column === 'tessera-tus' ? 'tessera' : column);
          const file = await refreshBigFile(path, sizes.bigBytes);
          if (column === 'tessera' && gatewayRss.bigStartRss === 0) gatewayRss.bigStartRss = rssOf(target.pids().gateway ?? 0);
          const sampler = new RssSampler(target.pids());
          const t0 = performance.now();
          let ok = true;
          try {
            const outcome = await target.uploadBig(file, column === 'tus-1patch' ? 'single' : column === 'tessera-tus' ? 'tus' : undefined);
            if (column === 'tessera' && outcome?.tailMs !== undefined) tails.push(outcome.tailMs / 1000);
          } catch (e) {
            ok = false;
            log(`  ${column}: FAILED ${String(e)}`);
          }
          const seconds = (performance.now() - t0) / 1000;
          const peaks = sampler.stop();
          result.peakRss[column] = mergePeaks(result.peakRss[column], peaks);
          const s = (samples[column] ??= { mbs: [], s: [] });
          if (ok) {
            s.mbs.push(sizes.bigBytes / 1e6 / seconds);
            s.s.push(seconds);
          } else result.failures[column] = (result.failures[column] ?? 0) + 1;
          result.failures[column] ??= 0;
          log(`  big-file round ${round + 1} ${column}: ${ok ? `${(sizes.bigBytes / 1e6 / seconds).toFixed(0)} MB/s` : 'failed'} (${seconds.toFixed(2)} s)`);
          if (column === 'tessera') gatewayRss.bigPeakRss = Math.max(gatewayRss.bigPeakRss, peaks.gateway ?? 0);
          await target.cleanup();
        }
      }
      for (const [column, s] of Object.entries(samples) as [Column, { mbs: number[]; s: number[] }][]) {
        result.metrics['MB/s']![column] = summarize(s.mbs);
        result.metrics.seconds![column] = summarize(s.s);
      }
      result.metrics['last 202 → completed, s']!.tessera = summarize(tails);
      rmSync(path, { force: true });
      scenarios.push(result);
    }

    // ---- scenarios 2 and 3 (and 4 during 2): many concurrent uploads
    const progress: number[][] = [];
    for (const [id, count, size] of [
      ['many-1MiB', sizes.mediumCount, sizes.mediumBytes],
      ['many-64KiB', sizes.smallCount, sizes.smallBytes],
    ] as const) {
      if (!runs(id)) continue;
      const result: ScenarioResult = {
        id,
        title: `${count} concurrent uploads of ${size >= MiB ? `${size / MiB} MiB` : `${size / 1024} KiB`}, to completion`,
        metrics: { 'uploads/s': {}, 'p50 ms': {}, 'p99 ms': {} },
        failures: {},
        peakRss: {},
      };
      const columns: Column[] = ['tessera', 'tus', 'ceiling'];
      const samples: Partial<Record<Column, { rate: number[]; p50: number[]; p99: number[] }>> = {};
      for (let round = 0; round < rounds; round++) {
        for (const column of rotate(columns, round)) {
          const target = byName(column as TargetName);
          const batch = makeBatch(count, size);
          const sampler = new RssSampler(target.pids());
          const t0 = performance.now();
          const outcomes = await target.uploadMany(batch);
          const seconds = (performance.now() - t0) / 1000;
          result.peakRss[column] = mergePeaks(result.peakRss[column], sampler.stop());
          const good = outcomes.filter((o) => o.ok);
          const failed = outcomes.length - good.length;
          result.failures[column] = (result.failures[column] ?? 0) + failed;
          if (failed) log(`  ${id} ${column}: ${failed} failed, first: ${outcomes.find((o) => !o.ok)?.error}`);
          const latencies = good.map((o) => o.latencyMs);
          const s = (samples[column] ??= { rate: [], p50: [], p99: [] });
          s.rate.push(good.length / seconds);
          s.p50.push(percentile(latencies, 50));
          s.p99.push(percentile(latencies, 99));
          if (id === 'many-1MiB' && column === 'tessera') progress.push(good.flatMap((o) => (o.progressMs === undefined ? [] : [o.progressMs])));
          log(`  ${id} round ${round + 1} ${column}: ${(good.length / seconds).toFixed(0)} uploads/s, p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`);
          await target.cleanup();
        }
      }
      for (const [column, s] of Object.entries(samples) as [Column, { rate: number[]; p50: number[]; p99: number[] }][]) {
        result.metrics['uploads/s']![column] = summarize(s.rate);
        result.metrics['p50 ms']![column] = summarize(s.p50);
        result.metrics['p99 ms']![column] = summarize(s.p99);
      }
      scenarios.push(result);
    }

    // ---- scenario 4: chunk 202 → chunk.stored at a subscribed client, measured during scenario 2
    if (runs('many-1MiB')) scenarios.push({
      id: 'progress-latency',
      title: `chunk 202 → chunk.stored at the client, during ${sizes.mediumCount} × 1 MiB (Tessera only: the peers send no progress events)`,
      metrics: {
        'p50 ms': { tessera: summarize(progress.map((p) => percentile(p, 50))) },
        'p99 ms': { tessera: summarize(progress.map((p) => percentile(p, 99))) },
        events: { tessera: summarize(progress.map((p) => p.length)) },
      },
      failures: { tessera: progress.reduce((n, p) => n + (sizes.mediumCount - p.length), 0) },
      peakRss: {},
    });

  } finally {
    await Promise.all(targets.map((t) => t.stop().catch((e) => log(`stopping ${t.name}: ${String(e)}`))));
    rmSync(work, { recursive: true, force: true });
  }

  const finished = new Date();
  const report: BenchReport = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationS: (finished.getTime() - started.getTime()) / 1000,
    mode: quick ? 'quick' : 'full',
    rounds,
    workers,
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' },
    sizes,
    notes: [
      'All targets and the client run on the same machine; the client competes with the servers for CPU.',
      'Tessera runs with LOG_LEVEL=warn (BENCH_LOG_LEVEL to change); peers log nothing.',
      'Tessera big file: 8 MiB chunks, 4 PUTs in flight, declared sha256, no Content-Digest; completion = upload.completed.',
      'Tessera batches: POST, subscribe on one shared socket.io connection, one PUT, wait for upload.completed.',
      'tus batches: tus-js-client POST + one PATCH per upload. Ceiling: one PUT per upload.',
      'Peak RSS: VmRSS sampled every 100 ms from /proc.',
      ...(workers > 1 ? [`Tessera runs ${workers} chunk-worker processes (one gateway, one notifier).`] : []),
      ...(options.only?.length ? [`Only these scenarios ran: ${options.only.join(', ')}.`] : []),
    ],
    scenarios,
    gatewayRss,
  };

  const outDir = options.outDir ?? join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const jsonPath = join(outDir, `${stamp}.json`);
  const mdPath = join(outDir, `${stamp}.md`);
  const svgPath = join(outDir, `${stamp}.svg`);
  writeFileSync(jsonPath, JSON.stringify(report, null, 2));
  writeFileSync(svgPath, renderSvg(report));
  writeFileSync(mdPath, renderMarkdown(report, `${stamp}.svg`));
  return { report, jsonPath, mdPath, svgPath };
}
