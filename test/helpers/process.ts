/** Processes a test started outside its own process tree (a detached daemon): are they still there? */

/** True while a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves true once the process is gone, false if it is still there after `timeoutMs`. */
export async function stopped(pid: number, timeoutMs = 10_000): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs && isAlive(pid); waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  return !isAlive(pid);
}
