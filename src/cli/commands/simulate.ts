/** `xenclaim simulate SCENARIO`: plays a scenario on the simulated host under each strategy and reports. */
import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { STRATEGIES, type StrategyName } from '../../toolstack/strategy-name.js';
import { EXIT_FAILED, type CommandContext } from '../command-context.js';

export function registerSimulate(program: Command, cli: CommandContext): void {
  program
    .command('simulate')
    .description('play a scenario on the simulated host under each strategy and report (format: docs/scenario-format.md)')
    .argument('<scenario>', 'scenario JSON file')
    .addOption(new Option('--strategy <name>', 'play only this strategy').choices([...STRATEGIES]))
    .option('--html <file>', 'also write a page with every timeline drawn')
    .action(async (file: string, options: { strategy?: StrategyName; html?: string }) => {
      const { formatReportTable, loadScenario, renderReportHtml, runScenario } = await import('../../simulate/index.js');
      const scenario = await loadScenario(file);
      const reports = await runScenario(scenario, options.strategy === undefined ? {} : { strategies: [options.strategy] });
      if (cli.global.json) cli.emitJson(reports.length === 1 ? reports[0] : reports);
      else cli.emitText(formatReportTable(reports));
      if (options.html !== undefined) await writeFile(options.html, renderReportHtml(reports));
      if (reports.some((r) => r.invariantViolations.length > 0 || r.leakedClaimPages > 0)) cli.exitCode = EXIT_FAILED;
    });
}
