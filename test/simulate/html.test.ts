import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../src/simulate/html.js';
import { parseScenario } from '../../src/simulate/scenario.js';
import { runScenario } from '../../src/simulate/run.js';
import { ADMITTERS, admitterLabel } from '../../src/toolstack/strategy-name.js';

const EXAMPLES = join(import.meta.dirname, '../../examples/scenarios');

async function play(file: string, rename?: string) {
  const scenario = parseScenario(readFileSync(join(EXAMPLES, file), 'utf8'));
  if (rename !== undefined) scenario.name = rename;
  return runScenario(scenario, { strategies: ADMITTERS });
}

/** The page's text, without its markup and without tooltips (<title> inside the charts). */
function visibleText(html: string): string {
  return html
    .replace(/<title>[^<]*<\/title>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

describe('simulate --html page', () => {
  it('draws, side by side, each strategy and peer model: a timeline with every request, demand and both bounds, and the host memory', async () => {
    const reports = await play('c-guest-grows.json');
    const html = renderReportHtml(reports);
    expect(html.match(/<section class="admitter"/g)).toHaveLength(reports.length);
    expect(html.match(/<svg class="timeline"/g)).toHaveLength(reports.length);
    expect(html.match(/<svg class="memory"/g)).toHaveLength(reports.length);
    for (const r of reports) {
      expect(html).toContain(`<h2>${admitterLabel(r.strategy)}</h2>`);
      for (const q of r.requests) expect(html).toContain(`>${q.name}</text>`);
      for (const d of r.demands) expect(html).toContain(`${d.guest} → ${d.targetMiB} MiB`);
    }
    expect(html).toContain('<h2>xapi (model)</h2>');
    // Both bounds, dashed, in every timeline.
    expect(html.match(/<line class="bound"[^>]*stroke-dasharray/g)).toHaveLength(2 * reports.length);
    // Host memory: free and claimed for everyone, and app1 growing (its demand) drawn as a donor line.
    expect(html.match(/<polyline class="free"/g)).toHaveLength(reports.length);
    expect(html.match(/<polyline class="claimed"/g)).toHaveLength(reports.length);
    expect(html).toMatch(/<polyline class="donor" points="[^"]+"[^>]*><title>app1 \(domid \d+\)/);
    expect(html).not.toMatch(/<script|\bsrc=|\bhref=/); // self-contained: nothing to load
  });

  it('says in its text why requests waited and why any failed, and escapes text from the scenario', async () => {
    const reports = await play('d-stuck-donors.json', 'stuck <donors> & "friends"');
    const html = renderReportHtml(reports);
    expect(html).toContain('<title>xenclaim simulate: stuck &lt;donors&gt; &amp; &quot;friends&quot;</title>');
    expect(html).not.toContain('<donors>');
    const text = visibleText(html);
    // Failure reasons are page text, not only tooltips.
    expect(text).toContain('huge failed at 0 s: Cannot admit guest "huge"');
    expect(text).toContain('big failed at 0 s: xl: failed to free memory for the domain');
    expect(text).toContain('huge failed at 14 s: xapi: HOST_NOT_ENOUGH_FREE_MEMORY');
    // Why big waited under claim-first: ballooned (the look before the claim found too little), a donor found stuck,
    // admitted.
    expect(text).toMatch(/big waited [\d.]+ s: .*ballooning \(round 1, \d+ MiB short\): .*donor stuck1 did not move.*admitted \(claim\)/);
    const failedDots = reports.reduce((n, r) => n + r.requests.filter((q) => q.failedAtS !== null).length, 0);
    expect(html.match(/<circle /g)).toHaveLength(failedDots);
  });

  it('stays drawable with a hundred requests and five hundred guests', async () => {
    const reports = await play('e-boot-storm.json');
    const html = renderReportHtml(reports.slice(0, 1));
    expect(html.match(/<rect /g)!.length).toBeGreaterThanOrEqual(200); // waiting and building bars for 100 requests
    expect(html).not.toContain('>new050</text>'); // too many rows to label
    expect(html).toMatch(/and \d+ more donors; \d+ guest\(s\) never changed size \(not drawn\)/);
    expect(html.length).toBeLessThan(2_000_000);
  });
});
