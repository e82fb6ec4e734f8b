import { describe, expect, it } from 'vitest';
import { leadingTimesteps, linspaceTimesteps, spacedTimesteps, trailingTimesteps } from './spacing';

// Values from the reference table (docs: onnx-stable-diffusion.md §3), T = 1000.
describe('timestep spacing', () => {
  it('leading with steps_offset 1', () => {
    expect(leadingTimesteps(1000, 4, 1)).toEqual([751, 501, 251, 1]);
    const fifty = leadingTimesteps(1000, 50, 1);
    expect(fifty.slice(0, 3)).toEqual([981, 961, 941]);
    expect(fifty.at(-1)).toBe(1);
  });
  it('trailing (SD-Turbo)', () => {
    expect(trailingTimesteps(1000, 4)).toEqual([999, 749, 499, 249]);
    expect(trailingTimesteps(1000, 1)).toEqual([999]);
    const fifty = trailingTimesteps(1000, 50);
    expect([fifty[0], fifty[1], fifty.at(-1)]).toEqual([999, 979, 19]);
  });
  it('linspace, rounded half to even', () => {
    expect(linspaceTimesteps(1000, 4)).toEqual([999, 666, 333, 0]);
    expect(linspaceTimesteps(1000, 3)).toEqual([999, 500, 0]); // 499.5 → 500 (even)
  });
  it('rejects an unknown spacing by name', () => {
    expect(() => spacedTimesteps('karras', 1000, 4, 0)).toThrow(/timestep_spacing "karras"/);
  });
});
