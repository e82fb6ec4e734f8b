import { pathToFileURL } from 'node:url';

/**
 * Who may call the studio over IPC: only the app's own page, in the window's top frame. A frame
 * that navigated elsewhere, an iframe, or any other page gets nothing, whatever it sends.
 */
export interface OwnPage {
  /** The built renderer's index.html (packaged app). */
  rendererFile: string;
  /** The dev server's URL (electron-vite dev), when the app runs from it. */
  devUrl?: string;
}

export function isOwnPageUrl(url: string | undefined, own: OwnPage): boolean {
  if (!url) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (own.devUrl) {
    const dev = new URL(own.devUrl);
    return parsed.origin === dev.origin && parsed.origin !== 'null';
  }
  if (parsed.protocol !== 'file:') return false;
  const expected = pathToFileURL(own.rendererFile);
  return parsed.pathname === expected.pathname && parsed.host === '';
}

/** The parts of an IpcMainInvokeEvent the check reads (so tests can pass plain objects). */
export interface SenderLike {
  senderFrame?: { url: string; parent: unknown } | null;
}

/** True when the message comes from the app's own page in a top-level frame. */
export function isTrustedSender(event: SenderLike, own: OwnPage): boolean {
  const frame = event.senderFrame;
  if (!frame || frame.parent) return false;
  return isOwnPageUrl(frame.url, own);
}

export const UNTRUSTED_SENDER = {
  ok: false,
  error: 'sender: only the studio’s own page may call the studio',
  code: 'forbidden',
} as const;
