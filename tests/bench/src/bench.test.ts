import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from './bench';

jest.setTimeout(300_000);

describe('npm run bench -- --quick', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'bench-results-'));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('measures every scenario on every target and writes a sane report', async () => {
    const { report, jsonPath, mdPath, svgPath } = await runBench({ quick: true, outDir, log: () => {} });
    expect([jsonPath, mdPath, svgPath].every(existsSync)).toBe(true);
    expect(report.scenarios.map((s) => s.id)).toEqual(['big-file', 'many-1MiB', 'many-64KiB', 'progress-latency']);

    const big = report.scenarios.find((s) => s.id === 'big-file')!;
    for (const column of ['tessera', 'tessera-tus', 'tus', 'tus-1patch', 'ceiling'] as const) {
      expect(big.failures[column]).toBe(0);
      expect(big.metrics['MB/s']![column]!.median).toBeGreaterThan(0);
      expect(Object.values(big.peakRss[column]!).every((b) => b > 0)).toBe(true);
    }
    for (const id of ['many-1MiB', 'many-64KiB']) {
      const s = report.scenarios.find((x) => x.id === id)!;
      for (const column of ['tessera', 'tus', 'ceiling'] as const) {
        expect(s.failures[column]).toBe(0);
        expect(s.metrics['uploads/s']![column]!.median).toBeGreaterThan(0);
        expect(s.metrics['p99 ms']![column]!.median).toBeGreaterThanOrEqual(s.metrics['p50 ms']![column]!.median);
        expect(Object.values(s.peakRss[column]!).every((b) => b > 0)).toBe(true);
      }
      expect(Object.keys(s.peakRss.tessera!).sort()).toEqual(['chunk-worker', 'gateway', 'notifier']);
    }
    const progress = report.scenarios.find((s) => s.id === 'progress-latency')!;
    expect(progress.failures.tessera).toBe(0);
    expect(progress.metrics['p99 ms']!.tessera!.median).toBeGreaterThanOrEqual(progress.metrics['p50 ms']!.tessera!.median);
    expect(report.gatewayRss.bigPeakRss).toBeGreaterThan(0);
    expect(report.gatewayRss.refPeakRss).toBeGreaterThan(0);
  });
});
