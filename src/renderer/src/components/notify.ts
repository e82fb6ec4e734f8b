import { notifications } from '@mantine/notifications';

/** Shared by every notification: a labelled close button and full-contrast text (WCAG AA). */
const BASE = {
  withBorder: true,
  closeButtonProps: { 'aria-label': 'Close this message' },
  styles: { description: { color: 'var(--mantine-color-text)' } },
} as const;

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A failure as a notification that says what happened and what to do next. The studio's own errors
 * already name the fix ("field: what is wrong and how to fix it"); `hint` adds the next step where
 * the message alone would leave a person stuck.
 */
export function notifyError(title: string, error: unknown, hint?: string): void {
  const message = errorText(error);
  notifications.show({
    title,
    message: hint ? `${message} — ${hint}` : message,
    color: 'red',
    autoClose: 12_000,
    ...BASE,
  });
}

export function notifyDone(title: string, message: string): void {
  notifications.show({
    title,
    message,
    color: 'green',
    autoClose: 6_000,
    ...BASE,
  });
}
