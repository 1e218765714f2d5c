/**
 * The host's admission knobs, as flags: the same names, units and defaults for standalone `create` and for `serve`
 * (the daemon applies them to every create it admits). Sizes take a unit suffix (64m, 1g; plain numbers are MiB);
 * times are seconds, and their flag names say so (`-s`), as the daemon's other time flags and the scenario fields
 * (policy.stallTimeoutS, policy.maxWaitS) do.
 */
import type { Command } from 'commander';
import type { HostOptions } from '../host/index.js';
import { sizeArg, UsageError } from './command-context.js';

/** The flags as commander hands them over (strings, undefined when not given). */
export interface AdmissionFlags {
  dom0Min?: string;
  reserve?: string;
  stallTimeoutS?: string;
  maxWaitS?: string;
}

/** Their host settings: the policy's dom0MinKiB and reserveKiB, the wait's stallTimeoutMs and maxWaitMs. */
export interface AdmissionSettings {
  policy: NonNullable<HostOptions['policy']>;
  wait: NonNullable<HostOptions['wait']>;
}

const ONE_YEAR_S = 365 * 24 * 3600;

/** Adds --dom0-min, --reserve, --stall-timeout-s and --max-wait-s to `command`. */
export function addAdmissionOptions(command: Command): Command {
  return command
    .option('--dom0-min <size>', 'never balloon dom0 below this (default 1g)')
    .option('--reserve <size>', 'free memory kept for Xen itself, never admitted to a guest (default 64m)')
    .option('--stall-timeout-s <seconds>', 'a donor making no progress this long is found uncooperative (default 5)')
    .option('--max-wait-s <seconds>', 'the longest one wait for memory may last (default: no limit while donors progress)');
}

/** A number of seconds (> 0, at most a year; fractions allowed) in ms; a bad one is a usage error naming the flag. */
export function secondsArg(text: string, flag: string): number {
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds <= 0 || seconds > ONE_YEAR_S) {
    throw new UsageError(`${flag} must be a number of seconds > 0 and at most one year, got ${JSON.stringify(text)}`);
  }
  return Math.round(seconds * 1000);
}

/** The settings the given flags ask for (only what was given: the host's defaults stand for the rest). */
export function admissionSettings(flags: AdmissionFlags): AdmissionSettings {
  const policy: AdmissionSettings['policy'] = {};
  const wait: AdmissionSettings['wait'] = {};
  if (flags.dom0Min !== undefined) policy.dom0MinKiB = sizeArg(flags.dom0Min, '--dom0-min');
  if (flags.reserve !== undefined) policy.reserveKiB = sizeArg(flags.reserve, '--reserve');
  if (flags.stallTimeoutS !== undefined) wait.stallTimeoutMs = secondsArg(flags.stallTimeoutS, '--stall-timeout-s');
  if (flags.maxWaitS !== undefined) wait.maxWaitMs = secondsArg(flags.maxWaitS, '--max-wait-s');
  return { policy, wait };
}

/** The admission flags given, as typed (`--reserve`, …): a client of the daemon cannot set them, the daemon does. */
export function givenAdmissionFlags(flags: AdmissionFlags): string[] {
  const names: [keyof AdmissionFlags, string][] = [
    ['dom0Min', '--dom0-min'], ['reserve', '--reserve'], ['stallTimeoutS', '--stall-timeout-s'], ['maxWaitS', '--max-wait-s'],
  ];
  return names.filter(([key]) => flags[key] !== undefined).map(([, flag]) => flag);
}
