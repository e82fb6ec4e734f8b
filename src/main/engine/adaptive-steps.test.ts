import { describe, expect, it } from 'vitest';
import { adaptiveSteps } from './pipeline';

describe('adaptiveSteps', () => {
  it('scales steps by prompt length at the documented thresholds', () => {
    expect(adaptiveSteps(50, 3)).toBe(25);
    expect(adaptiveSteps(50, 6)).toBe(25);
    expect(adaptiveSteps(50, 7)).toBe(38);
    expect(adaptiveSteps(50, 15)).toBe(38);
    expect(adaptiveSteps(50, 16)).toBe(50);
    expect(adaptiveSteps(1, 1)).toBe(1);
  });
});
