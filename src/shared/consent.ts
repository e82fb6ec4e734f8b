/**
 * The Electron-only consent channel: the page asks the main process to show an open dialog and
 * gets back an opaque handle for what the person picked (never a path it chose itself). Free of
 * dependencies so the sandboxed preload can import it.
 */
export const CONSENT_PICK_CHANNEL = 'studio-consent:pick';
export const PICK_KINDS = ['folder', 'file', 'output'] as const;
export type PickKind = (typeof PICK_KINDS)[number];
/** What the page gets: a handle to pass in a path field, and a name to show; null if cancelled. */
export type PickResult = { handle: string; name: string } | null;
