import type { BenchReport, Column } from './bench';

const MiB = 1024 * 1024;
const COLUMNS: Column[] = ['tessera', 'tessera-tus', 'tus', 'tus-1patch', 'ceiling'];
const LABEL: Record<Column, string> = { tessera: 'Tessera', 'tessera-tus': 'Tessera over tus', tus: '@tus/server', 'tus-1patch': '@tus/server 1 PATCH', ceiling: 'ceiling' };

const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '–' : `${(a / b).toFixed(2)}×`);

/** The summary table: median (min–max) per metric and column, and Tessera's ratios. */
export function renderTable(report: BenchReport): string {
  const lines = [
    `| scenario | metric | ${COLUMNS.map((c) => LABEL[c]).join(' | ')} | Tessera / @tus/server | Tessera / ceiling |`,
    `| --- | --- | ${COLUMNS.map(() => '---:').join(' | ')} | ---: | ---: |`,
  ];
  for (const s of report.scenarios) {
    for (const [metric, byColumn] of Object.entries(s.metrics)) {
      const cell = (c: Column) => {
        const m = byColumn[c];
        if (!m) return '';
        return report.rounds > 1 ? `${fmt(m.median)} (${fmt(m.min)}–${fmt(m.max)})` : fmt(m.median);
      };
      lines.push(`| ${s.id} | ${metric} | ${COLUMNS.map(cell).join(' | ')} | ${ratio(byColumn.tessera?.median, byColumn.tus?.median)} | ${ratio(byColumn.tessera?.median, byColumn.ceiling?.median)} |`);
    }
    const failures = COLUMNS.map((c) => (s.failures[c] === undefined ? '' : String(s.failures[c])));
    lines.push(`| ${s.id} | failures | ${failures.join(' | ')} | | |`);
  }
  return lines.join('\n');
}

export function renderRssTable(report: BenchReport): string {
  const lines = ['| scenario | target | peak RSS per process (MiB) |', '| --- | --- | --- |'];
  for (const s of report.scenarios) {
    for (const c of COLUMNS) {
      const peaks = s.peakRss[c];
      if (!peaks) continue;
      lines.push(`| ${s.id} | ${LABEL[c]} | ${Object.entries(peaks).map(([p, b]) => `${p} ${(b / MiB).toFixed(0)}`).join(', ')} |`);
    }
  }
  return lines.join('\n');
}

export function renderMarkdown(report: BenchReport, svgName: string): string {
  const g = report.gatewayRss;
  return [
    `# Tessera benchmark, ${report.startedAt} (${report.mode}, ${report.rounds} round(s), ${report.durationS.toFixed(0)} s)`,
    '',
    `Node ${report.machine.node}, ${report.machine.cpus} × ${report.machine.cpuModel}. Cells: median (min–max) over rounds.`,
    'Ratios divide Tessera\'s median by the other\'s: above 1 is better for MB/s and uploads/s, worse for seconds and ms.',
    '',
    renderTable(report),
    '',
    '## Peak RSS',
    '',
    renderRssTable(report),
    '',
    `Gateway RSS (before → peak): ${(g.refStartRss / MiB).toFixed(0)} → ${(g.refPeakRss / MiB).toFixed(0)} MiB during a ${g.refUploadBytes / MiB} MiB upload on a fresh gateway; ${(g.bigStartRss / MiB).toFixed(0)} → ${(g.bigPeakRss / MiB).toFixed(0)} MiB during the ${g.bigUploadBytes / MiB} MiB uploads right after it.`,
    '',
    `![throughput and latency](${svgName})`,
    '',
    '## Notes',
    '',
    ...report.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

const COLORS: Record<Column, string> = { tessera: '#2b6cb0', 'tessera-tus': '#63b3ed', tus: '#dd6b20', 'tus-1patch': '#f6ad55', ceiling: '#718096' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Hand-drawn bar chart: one panel per (scenario, metric) that measures throughput or latency. */
export function renderSvg(report: BenchReport): string {
  const panels: { title: string; values: [Column, number][] }[] = [];
  for (const s of report.scenarios) {
    for (const [metric, byColumn] of Object.entries(s.metrics)) {
      if (!['MB/s', 'uploads/s', 'p50 ms', 'p99 ms'].includes(metric)) continue;
      const values = COLUMNS.flatMap((c): [Column, number][] => (byColumn[c] && Number.isFinite(byColumn[c]!.median) ? [[c, byColumn[c]!.median]] : []));
      if (values.length) panels.push({ title: `${s.id}: ${metric}`, values });
    }
  }
  const panelW = 260;
  const panelH = 190;
  const perRow = 4;
  const width = panelW * perRow;
  const height = Math.ceil(panels.length / perRow) * panelH + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...COLUMNS.map((c, i) => `<rect x="${10 + i * 150}" y="10" width="12" height="12" fill="${COLORS[c]}"/><text x="${26 + i * 150}" y="20">${esc(LABEL[c])}</text>`),
  ];
  panels.forEach((p, i) => {
    const x0 = (i % perRow) * panelW + 10;
    const y0 = Math.floor(i / perRow) * panelH + 40;
    const max = Math.max(...p.values.map(([, v]) => v)) || 1;
    const barW = (panelW - 40) / p.values.length;
    parts.push(`<text x="${x0}" y="${y0 + 12}" font-weight="bold">${esc(p.title)}</text>`);
    p.values.forEach(([c, v], j) => {
      const h = (v / max) * (panelH - 60);
      const x = x0 + j * barW;
      const y = y0 + panelH - 30 - h;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 6).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[c]}"/>`);
      parts.push(`<text x="${(x + (barW - 6) / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle">${fmt(v)}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}
