import { runBench } from './bench';
import { renderRssTable, renderTable } from './report';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const roundsArg = args.find((a) => a.startsWith('--rounds='));
  const { report, jsonPath, mdPath } = await runBench({ quick, ...(roundsArg ? { rounds: Number(roundsArg.split('=')[1]) } : {}) });
  process.stdout.write(`\n${renderTable(report)}\n\n`);
  const g = report.gatewayRss;
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  process.stdout.write(`gateway RSS before → peak: ${mib(g.refStartRss)} → ${mib(g.refPeakRss)} MiB for a ${g.refUploadBytes / 2 ** 20} MiB upload, ${mib(g.bigStartRss)} → ${mib(g.bigPeakRss)} MiB for ${g.bigUploadBytes / 2 ** 20} MiB\n${renderRssTable(report)}\n`);
  process.stdout.write(`took ${report.durationS.toFixed(0)} s; wrote ${jsonPath} and ${mdPath}\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
