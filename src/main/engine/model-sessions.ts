import type { ComponentSession } from './component-session';
import { loadComponent, type ComponentName, type ModelInfo } from './model-loader';
import { join } from 'node:path';
import type { RunConfig } from './run-config';
import { staticShapesFile, type InputDims } from './static-shapes';

/**
 * A loaded model under one RunConfig. `resident` keeps every session between generations;
 * `sequential` loads a component just before it runs and releases it right after (the ONNX form of
 * CPU offload: peak memory is the largest component, not the sum).
 */
export class ModelSessions {
  private readonly sessions = new Map<ComponentName, ComponentSession>();
  readonly warnings: string[] = [];
  /** The execution provider each component actually runs on (after any fallback). */
  readonly providersUsed = new Map<ComponentName, string>();
  loadMs = 0;
  private releasedOrtMs = 0;

  constructor(
    readonly info: ModelInfo,
    readonly config: RunConfig,
  ) {}

  /** Which input sizes each static-shapes session was made for. */
  private readonly staticKeys = new Map<ComponentName, string>();

  /**
   * The component's session. With `staticShapes` on and `dims` given, a session whose inputs are
   * fixed to those sizes: a session made for other sizes is released and a new one made.
   */
  async acquire(component: ComponentName, dims?: InputDims): Promise<ComponentSession> {
    const fixed = this.config.staticShapes && dims !== undefined;
    const key = fixed ? JSON.stringify(dims) : '';
    const existing = this.sessions.get(component);
    if (existing && (this.staticKeys.get(component) ?? '') === key) return existing;
    if (existing) {
      this.sessions.delete(component);
      this.releasedOrtMs += existing.ortMs;
      await existing.release();
    }
    const start = performance.now();
    const graph = fixed
      ? staticShapesFile(join(this.info.dir, component, 'model.onnx'), dims)
      : undefined;
    const session = await loadComponent(this.info, component, this.config, graph?.file);
    this.staticKeys.set(component, key);
    this.loadMs += performance.now() - start;
    this.warnings.push(...session.warnings);
    this.providersUsed.set(component, session.provider);
    this.sessions.set(component, session);
    return session;
  }

  async done(component: ComponentName): Promise<void> {
    if (this.config.residency !== 'sequential') return;
    const session = this.sessions.get(component);
    if (!session) return;
    this.sessions.delete(component);
    this.releasedOrtMs += session.ortMs;
    await session.release();
  }

  /** Sum of time spent inside session.run since the last reset, over every component. */
  takeOrtMs(): number {
    let total = this.releasedOrtMs;
    this.releasedOrtMs = 0;
    for (const s of this.sessions.values()) {
      total += s.ortMs;
      s.ortMs = 0;
    }
    return total;
  }

  async releaseAll(): Promise<void> {
    for (const s of this.sessions.values()) await s.release();
    this.sessions.clear();
  }
}
