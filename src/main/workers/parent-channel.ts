/**
 * A worker's side of the channel to the studio: `process.parentPort` when it runs as an Electron
 * utility process, `process.send` / `process.on('message')` when it was forked by Node.
 * See worker-process.ts for the parent's side.
 */

interface ParentPortLike {
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

export interface ParentChannel {
  readonly kind: 'utility' | 'child';
  /** Resolves once the message has left this process (Node) or been queued (utility process). */
  send(message: unknown): Promise<void>;
  onMessage(listener: (message: unknown) => void): void;
  /** The parent went away (Node only; Electron ends utility processes with the app). */
  onParentGone(listener: () => void): void;
  /**
   * Exits after the last message was sent. A utility process waits for its parent to end it (the
   * parent does once it has the result), so a message still in flight is never cut off.
   */
  finish(): void;
}

export function parentChannel(): ParentChannel {
  const port = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
  if (port) {
    return {
      kind: 'utility',
      send: (message) => {
        port.postMessage(message);
        return Promise.resolve();
      },
      onMessage: (listener) => port.on('message', (event) => listener(event.data)),
      onParentGone: () => {},
      finish: () => {
        setTimeout(() => process.exit(0), 10_000);
      },
    };
  }
  // Ctrl+C in a terminal reaches the whole foreground process group, so this worker too. The
  // parent turns it into a cancel and ends its workers itself: a worker that died of the SIGINT
  // first would fail the job ("killed (SIGINT)") before the cancel could be recorded. So a worker
  // with a parent ignores it, and one whose parent is gone ends, as it would have.
  process.on('SIGINT', () => {
    if (!process.connected) process.exit(130);
  });
  process.on('disconnect', () => process.exit(0));
  return {
    kind: 'child',
    send: (message) =>
      new Promise((resolve) => {
        if (!process.send || !process.connected) return resolve();
        process.send(message as never, () => resolve());
      }),
    onMessage: (listener) => process.on('message', listener),
    onParentGone: (listener) => process.on('disconnect', listener),
    finish: () => process.exit(0),
  };
}
