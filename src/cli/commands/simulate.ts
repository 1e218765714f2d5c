/** `xenclaim simulate SCENARIO`: plays a scenario on the simulated host under each strategy and reports. */
import { constants } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { ADMITTERS, type AdmitterName } from '../../toolstack/strategy-name.js';
import { EXIT_FAILED, UsageError, type CommandContext } from '../command-context.js';

export function registerSimulate(program: Command, cli: CommandContext): void {
  program
    .command('simulate')
    .description(
      'play a scenario on the simulated host under each strategy and report (format: docs/scenario-format.md); ' +
        'without --strategy, the scenario\'s "strategies" (default: claim-first, limit-and-check, model); ' +
        '"--strategy all" adds the models of xl, xapi and qmemman (docs/peers.md)',
    )
    .argument('<scenario>', 'scenario JSON file')
    .addOption(
      new Option('--strategy <name>', "play only this strategy or peer model, or 'all' (ours and the peer models)").choices([...ADMITTERS, 'all']),
    )
    .option('--html <file>', 'also write a page with every timeline and the host\'s memory drawn')
    .action(async (file: string, options: { strategy?: AdmitterName | 'all'; html?: string }) => {
      const { formatReportTable, loadScenario, renderReportHtml, runScenario } = await import('../../simulate/index.js');
      // Before playing (a boot storm takes seconds): a page that cannot be written is said at once.
      if (options.html !== undefined) {
        const directory = dirname(resolve(options.html));
        const html = options.html;
        await access(directory, constants.W_OK).catch(() => {
          throw new UsageError(`--html ${html}: its directory ${directory} does not exist or is not writable`);
        });
      }
      const scenario = await loadScenario(file);
      const strategies = options.strategy === undefined ? undefined : options.strategy === 'all' ? ADMITTERS : [options.strategy];
      const reports = await runScenario(scenario, strategies === undefined ? {} : { strategies });
      if (cli.global.json) cli.emitJson(reports.length === 1 ? reports[0] : reports);
      else cli.emitText(formatReportTable(reports));
      if (options.html !== undefined) {
        await writeFile(options.html, renderReportHtml(reports));
        if (!cli.global.json) cli.emitText(`\npage: ${resolve(options.html)}`);
      }
      // Our strategies must leave the host clean; a peer model's leftovers are its own behaviour, reported as such.
      if (reports.some((r) => r.leakedClaimPages > 0 || (r.kind === 'strategy' && r.invariantViolations.length > 0))) cli.exitCode = EXIT_FAILED;
    });
}
