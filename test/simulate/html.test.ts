import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../src/simulate/html.js';
import { parseScenario } from '../../src/simulate/scenario.js';
import { runScenario } from '../../src/simulate/run.js';

const EXAMPLES = join(import.meta.dirname, '../../examples/scenarios');

async function play(file: string, rename?: string) {
  const scenario = parseScenario(readFileSync(join(EXAMPLES, file), 'utf8'));
  if (rename !== undefined) scenario.name = rename;
  return runScenario(scenario);
}

describe('simulate --html page', () => {
  it('draws one timeline per strategy with a row per request and demand, and the lower bound', async () => {
    const reports = await play('c-guest-grows.json');
    const html = renderReportHtml(reports);
    expect(html.match(/<svg /g)).toHaveLength(reports.length);
    for (const r of reports) {
      expect(html).toContain(`<h2>${r.strategy}</h2>`);
      for (const q of r.requests) expect(html).toContain(`>${q.name}</text>`);
      for (const d of r.demands) expect(html).toContain(`${d.guest} → ${d.targetMiB} MiB`);
    }
    expect(html.match(/stroke-dasharray/g)).toHaveLength(reports.length);
    expect(html).not.toMatch(/<script|\bsrc=|\bhref=/); // self-contained: nothing to load
  });

  it('marks failed requests and escapes text from the scenario', async () => {
    const reports = await play('d-stuck-donors.json', 'stuck <donors> & "friends"');
    const html = renderReportHtml(reports);
    expect(html).toContain('<title>xenclaim simulate: stuck &lt;donors&gt; &amp; &quot;friends&quot;</title>');
    expect(html).not.toContain('<donors>');
    const failed = reports[0]!.requests.filter((q) => q.failedAtS !== null).length;
    expect(failed).toBeGreaterThan(0);
    expect(html.match(/<circle /g)).toHaveLength(failed * reports.length);
  });
});
