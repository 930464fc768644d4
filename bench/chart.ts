/**
 * A small SVG bar chart (no dependencies): grouped horizontal bars, one group per row label,
 * one bar per series, values labelled. Used for bench/results/*.svg.
 */
export interface ChartSeries {
  name: string;
  color: string;
}

export interface ChartGroup {
  label: string;
  /** One value per series (undefined = not measured). */
  values: (number | undefined)[];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function barChart(title: string, unit: string, series: ChartSeries[], groups: ChartGroup[]): string {
  const labelW = 230;
  const plotW = 520;
  const barH = 14;
  const gap = 10;
  const top = 50;
  const groupH = series.length * barH + gap;
  const height = top + groups.length * groupH + 30;
  const width = labelW + plotW + 90;
  const max = Math.max(1, ...groups.flatMap((g) => g.values.filter((v): v is number => v !== undefined && Number.isFinite(v))));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  series.forEach((s, i) => {
    const x = labelW + i * 170;
    out.push(`<rect x="${x}" y="30" width="12" height="12" fill="${s.color}"/><text x="${x + 16}" y="40">${esc(s.name)}</text>`);
  });
  groups.forEach((g, gi) => {
    const y0 = top + gi * groupH;
    out.push(`<text x="${labelW - 8}" y="${y0 + (series.length * barH) / 2 + 4}" text-anchor="end">${esc(g.label)}</text>`);
    g.values.forEach((v, si) => {
      const y = y0 + si * barH;
      if (v === undefined || !Number.isFinite(v)) {
        out.push(`<text x="${labelW + 4}" y="${y + barH - 3}" fill="#888">n/a</text>`);
        return;
      }
      const w = Math.max(1, (v / max) * plotW);
      out.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${series[si]!.color}"/>`);
      out.push(`<text x="${(labelW + w + 4).toFixed(1)}" y="${y + barH - 3}">${esc(Math.round(v).toLocaleString('en-US'))}</text>`);
    });
  });
  out.push(`<text x="${labelW}" y="${height - 8}" fill="#555">${esc(unit)}</text>`, '</svg>');
  return out.join('\n') + '\n';
}
