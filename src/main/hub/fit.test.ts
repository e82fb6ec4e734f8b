import { describe, expect, it } from 'vitest';
import { checkFit } from './fit';

const GiB = 2 ** 30;
const hw = (ramGb: number, vramMb: number | null = null) => ({
  memory: { totalMb: ramGb * 1024, availableMb: ramGb * 512 },
  gpus: vramMb === null ? [] : [{ vendor: 'x', model: 'y', vramMb }],
});

describe('will it fit', () => {
  it('fits, fits with sequential loading, or is too large, against RAM on the CPU', () => {
    expect(
      checkFit({ weightsBytes: 4.3e9, largestComponentBytes: 3.4e9, ep: 'cpu', hardware: hw(16) })
        .verdict,
    ).toBe('fits');
    const seq = checkFit({
      weightsBytes: 7 * GiB,
      largestComponentBytes: 5 * GiB,
      ep: 'cpu',
      hardware: hw(10),
    });
    expect(seq.verdict).toBe('fits-sequential');
    expect(seq.recipes.map((r) => r.recipe)).toEqual(['sequential', 'int8', 'int4']);
    expect(seq.recipes.find((r) => r.recipe === 'int8')?.verdict).toBe('fits');
    const big = checkFit({
      weightsBytes: 13 * GiB,
      largestComponentBytes: 10 * GiB,
      ep: 'cpu',
      hardware: hw(8),
    });
    expect(big.verdict).toBe('too-large');
    expect(big.recipes.map((r) => r.recipe)).toEqual(['int8', 'int4']);
    expect(big.explanation).toMatch(/too large for 6\.0 GiB of RAM.*int8 or int4/);
  });

  it('uses GPU memory for GPU providers, and says when it is unknown', () => {
    const gpu = checkFit({
      weightsBytes: 7 * GiB,
      largestComponentBytes: 5 * GiB,
      ep: 'cuda',
      hardware: hw(64, 8192),
    });
    expect(gpu).toMatchObject({ device: 'gpu', budgetMb: 7372, verdict: 'fits-sequential' });
    const unknown = checkFit({
      weightsBytes: GiB,
      largestComponentBytes: GiB,
      ep: 'dml',
      hardware: hw(16, null),
    });
    expect(unknown.budgetMb).toBeNull();
    expect(unknown.explanation).toMatch(/does not report its memory/);
  });
});
