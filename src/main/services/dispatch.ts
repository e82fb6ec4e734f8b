import {
  studioMethods,
  type MethodName,
  type MethodOutput,
  type StudioHandlers,
} from '../../shared/api';
import { StudioError, describeZodError } from '../../shared/errors';
import { checkPaths, type PathResolver } from '../path-consent';

export interface DispatchOptions {
  /**
   * What path consent means for this adapter (path-consent.ts): every path field of the parsed
   * input goes through it. Absent: paths are taken as they are (the CLI, tests).
   */
  paths?: PathResolver;
}

/**
 * The single entry every adapter (IPC, HTTP, CLI) goes through: validates the raw input against the
 * method's schema, so bad input is answered the same way whichever door it came in by, then checks
 * the paths in what the schema parsed (never in the raw input: a body the schema refuses is
 * answered by the schema, however it is shaped).
 */
export async function dispatch<M extends MethodName>(
  handlers: StudioHandlers,
  method: M,
  raw: unknown,
  options: DispatchOptions = {},
): Promise<MethodOutput<M>> {
  const schema = studioMethods[method].input;
  const parsed = schema.safeParse(raw ?? undefined);
  if (!parsed.success) throw new StudioError(describeZodError(parsed.error), 'bad-input');
  const input = options.paths
    ? await checkPaths(handlers, method, parsed.data, options.paths)
    : parsed.data;
  const handler = handlers[method] as (input: unknown) => Promise<MethodOutput<M>>;
  return handler(input);
}

/** What an adapter sends back for a failed call: a message a person can act on, and a code. */
export function errorPayload(error: unknown): { error: string; code: string } {
  if (error instanceof StudioError) return { error: error.message, code: error.code };
  const message = error instanceof Error ? error.message : String(error);
  return { error: message, code: 'failed' };
}
