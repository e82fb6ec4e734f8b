import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempHome } from '../../../test/helpers/temp-home';
import { profileSampling } from '../profiles/profile';
import {
  ADAPTIVE_CHEAP_PAIR_MS,
  ADAPTIVE_MAX_FACTOR,
  ADAPTIVE_TARGET_HALF_WIDTH,
  caseRequest,
  engineTurns,
  folderBytes,
  inAbbaOrder,
  wantsMorePairs,
} from './measure';
import { logHalfWidth } from './stats';
import { findRecipe } from './recipes';
import { SHAPES_SET } from './test-sets';

const home = tempHome();
afterAll(() => home.cleanup());

const setup = (settings: 'model' | 'cases') => ({
  model: { dir: '/m', family: 'sd1' },
  settings,
  defaultSteps: 25,
  batch: 1,
  ep: 'cpu' as const,
  physicalCores: 4,
});
const testCase = SHAPES_SET.cases[0]; // 50 steps, guidance 7.5

describe('caseRequest', () => {
  it('under model settings asks exactly what generate applies with the recipe as a profile', () => {
    const dpm = findRecipe('dpm-fast');
    const r = caseRequest(setup('model'), dpm, testCase, '/m');
    expect(r).toMatchObject({ steps: 10, scheduler: 'dpm++2m-karras', guidance: undefined });
    expect({
      steps: r.steps,
      guidance: r.guidance,
      scheduler: r.scheduler,
      adaptiveSteps: r.adaptiveSteps,
      schedulerOverrides: r.schedulerOverrides,
    }).toEqual(profileSampling(dpm, 25));
    // The baseline changes nothing: the engine's defaults, as plain generate.
    const base = caseRequest(setup('model'), findRecipe('baseline'), testCase, '/m');
    expect(base).toMatchObject({ steps: undefined, guidance: undefined, scheduler: undefined });
    expect(base.runConfig).toEqual({});
  });

  it("under case settings keeps each case's steps and guidance", () => {
    const r = caseRequest(setup('cases'), findRecipe('dpm-fast'), testCase, '/m');
    expect(r).toMatchObject({ steps: 20, guidance: 7.5 });
  });
});

describe('folderBytes', () => {
  it('counts files through links (a Hugging Face snapshot is links to blobs)', () => {
    writeFileSync(join(home.dir, 'blob'), Buffer.alloc(1000));
    mkdirSync(join(home.dir, 'snap', 'unet'), { recursive: true });
    symlinkSync(join(home.dir, 'blob'), join(home.dir, 'snap', 'unet', 'model.onnx'));
    writeFileSync(join(home.dir, 'snap', 'model_index.json'), '{}');
    expect(folderBytes(join(home.dir, 'snap'))).toBe(1002);
  });
});

describe('engineTurns', () => {
  it('pauses only when the turn passes to the other engine', async () => {
    vi.useFakeTimers();
    try {
      const turn = engineTurns(150);
      const paused: boolean[] = [];
      const take = async (tag: string) => {
        const done = turn(tag);
        paused.push(vi.getTimerCount() > 0);
        await vi.advanceTimersByTimeAsync(150);
        await done;
      };
      // ABBA over two repeats: r c | c r, then r again
      for (const tag of ['r', 'c', 'c', 'r', 'r']) await take(tag);
      expect(paused).toEqual([false, true, false, true, false]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('inAbbaOrder', () => {
  it('runs a then b on even repeats, b then a on odd ones', async () => {
    const order: string[] = [];
    for (let r = 0; r < 3; r++)
      await inAbbaOrder(
        r,
        async () => void order.push('a'),
        async () => void order.push('b'),
      );
    expect(order.join('')).toBe('abbaab');
  });
});

describe('wantsMorePairs (adaptive repeats)', () => {
  const noisy = [0.9, 0.5, 0.7, 0.3, 1.1, 0.6]; // log ratios far apart: a wide interval
  const quiet = [0.69, 0.7, 0.69, 0.71, 0.7, 0.7];
  const ask = (o: Partial<Parameters<typeof wantsMorePairs>[0]>) =>
    wantsMorePairs({ logs: noisy, planned: 0, done: 3, repeats: 3, lastPairMs: 100, ...o });

  it('always runs the configured repeats', () => {
    expect(ask({ logs: quiet, done: 2 })).toBe(true);
  });

  it('adds pairs while the interval is wider than the target, and stops once it is not', () => {
    expect(logHalfWidth(noisy)).toBeGreaterThan(ADAPTIVE_TARGET_HALF_WIDTH);
    expect(ask({})).toBe(true);
    expect(logHalfWidth(quiet)).toBeLessThan(ADAPTIVE_TARGET_HALF_WIDTH);
    expect(ask({ logs: quiet })).toBe(false);
    // One pair shows no spread yet: one more.
    expect(ask({ logs: [0.7], done: 1, repeats: 1 })).toBe(true);
  });

  it('counts the pairs the later cases will add anyway', () => {
    const middling = [0.75, 0.62, 0.71, 0.66];
    expect(logHalfWidth(middling)).toBeGreaterThan(ADAPTIVE_TARGET_HALF_WIDTH);
    expect(ask({ logs: middling })).toBe(true);
    expect(ask({ logs: middling, planned: 12 })).toBe(false);
  });

  it('is bounded: at most the factor times the repeats, and only while a pair is cheap', () => {
    expect(ask({ done: 3 * ADAPTIVE_MAX_FACTOR - 1 })).toBe(true);
    expect(ask({ done: 3 * ADAPTIVE_MAX_FACTOR })).toBe(false);
    expect(ask({ lastPairMs: ADAPTIVE_CHEAP_PAIR_MS })).toBe(true);
    expect(ask({ lastPairMs: ADAPTIVE_CHEAP_PAIR_MS + 1 })).toBe(false);
  });
});
