import { runBench, SCENARIOS } from './bench';
import { renderRssTable, renderTable } from './report';

const HELP = `npm run bench -- [options]
  --quick            small sizes, 1 round (a smoke run)
  --rounds=N         rounds per scenario (default 3, 1 with --quick)
  --workers=N        chunk-worker processes of the Tessera target (default 1, or BENCH_WORKERS)
  --only=ID[,ID]     run only these scenarios: ${SCENARIOS.join(', ')} (progress-latency comes with many-1MiB)
environment: BENCH_LOG_LEVEL (Tessera's LOG_LEVEL, default warn), BENCH_WORKERS
`;

/** The value of \`--name=value\` or \`--name value\`, if given. */
function option(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  return args[i]!.includes('=') ? args[i]!.slice(args[i]!.indexOf('=') + 1) : args[i + 1];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = args.includes('--quick');
  const roundsArg = args.find((a) => a.startsWith('--rounds='));
  const workers = Number(option(args, 'workers') ?? process.env.BENCH_WORKERS ?? 1);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a whole number of at least 1\n${HELP}`);
  const only = option(args, 'only')?.split(',').filter(Boolean);
  const { report, jsonPath, mdPath } = await runBench({ quick, workers, ...(only ? { only } : {}), ...(roundsArg ? { rounds: Number(roundsArg.split('=')[1]) } : {}) });
  process.stdout.write(`\n${renderTable(report)}\n\n`);
  const g = report.gatewayRss;
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  // (measured with the big-file scenario only)
  if (g.refPeakRss > 0) process.stdout.write(`gateway RSS before → peak: ${mib(g.refStartRss)} → ${mib(g.refPeakRss)} MiB for a ${g.refUploadBytes / 2 ** 20} MiB upload, ${mib(g.bigStartRss)} → ${mib(g.bigPeakRss)} MiB for ${g.bigUploadBytes / 2 ** 20} MiB\n`);
  process.stdout.write(`${renderRssTable(report)}\n`);
  process.stdout.write(`took ${report.durationS.toFixed(0)} s; wrote ${jsonPath} and ${mdPath}\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
