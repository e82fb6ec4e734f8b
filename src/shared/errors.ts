import type { z } from 'zod';

/** An error whose message is safe to show a person: it says what is wrong and what to do. */
export class StudioError extends Error {
  constructor(
    message: string,
    readonly code:
      'bad-input' | 'not-found' | 'unavailable' | 'cancelled' | 'too-large' | 'failed' = 'failed',
  ) {
    super(message);
    this.name = 'StudioError';
  }
}

/** "field.path: message; other: message" — names each field and the fix the schema states. */
export function describeZodError(error: z.ZodError, what = 'input'): string {
  const parts = error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : what;
    if (issue.code === 'unrecognized_keys') {
      return `${field}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove them`;
    }
    return `${field}: ${issue.message}`;
  });
  return parts.join('; ');
}
