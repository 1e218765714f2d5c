/**
 * A small client of the daemon's API over its Unix socket, for the CLI: node:http only, so that a command talking to
 * the daemon loads nothing else (docs/daemon.md#the-cli-and-the-daemon).
 */
import { request as httpRequest } from 'node:http';
import { XenError } from '../errors.js';

/** Where the daemon listens unless told otherwise (--socket, XENCLAIM_SOCKET). */
export const DEFAULT_SOCKET = '/run/xenclaim/xenclaim.sock';

/** An answer: the status and the parsed JSON body. */
export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
}

/**
 * One request; resolves with any status (the caller decides), rejects when the socket does not answer (ECONNREFUSED,
 * ENOENT, …) or after `timeoutMs` without an answer.
 */
export function callDaemon<T = unknown>(socket: string, method: string, path: string, body?: unknown, timeoutMs = 0): Promise<ApiAnswer<T>> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      { socketPath: socket, method, path, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: (text === '' ? null : JSON.parse(text)) as T });
          } catch {
            reject(new XenError(`the daemon on ${socket} answered ${method} ${path} with something that is not JSON`, { code: 'EPROTO', op: 'daemon' }));
          }
        });
        res.on('error', reject);
      },
    );
    if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new XenError(`the daemon on ${socket} did not answer in ${timeoutMs} ms`, { code: 'ETIMEDOUT', op: 'daemon' })));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** True when a daemon answers GET /v1/health on `socket` within `timeoutMs`. */
export async function probeDaemon(socket: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const answer = await callDaemon<{ ok?: boolean }>(socket, 'GET', '/v1/health', undefined, timeoutMs);
    return answer.status === 200 && answer.body?.ok === true;
  } catch {
    return false;
  }
}

/** An error answer as the XenError the standalone CLI would have thrown (same message, same code). */
export function answerError(answer: ApiAnswer): XenError {
  const error = (answer.body as { error?: { code?: string; message?: string } } | null)?.error;
  return new XenError(error?.message ?? `the daemon answered ${answer.status}`, { code: error?.code ?? 'EIO', op: 'daemon' });
}

/**
 * Follows GET /v1/events (server-sent events), calling `onEvent` with each event's data; returns a function that
 * stops following. Resolves once the stream is open.
 */
export function followEvents(socket: string, requestId: string, onEvent: (data: unknown) => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: socket, method: 'GET', path: `/v1/events?requestId=${encodeURIComponent(requestId)}` }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data !== '') onEvent(JSON.parse(data));
        }
      });
      res.on('error', () => undefined);
      resolve(() => req.destroy());
    });
    req.on('error', reject);
    req.end();
  });
}
