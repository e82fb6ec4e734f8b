import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectFamily } from './model-folder';
import { tempHome } from '../../../test/helpers/temp-home';

let home: ReturnType<typeof tempHome> | undefined;
afterEach(() => home?.cleanup());

function folder(
  name: string,
  scheduler: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): string {
  home ??= tempHome();
  const dir = join(home.dir, name);
  mkdirSync(join(dir, 'scheduler'), { recursive: true });
  mkdirSync(join(dir, 'unet'), { recursive: true });
  writeFileSync(join(dir, 'scheduler', 'scheduler_config.json'), JSON.stringify(scheduler));
  writeFileSync(
    join(dir, 'model_index.json'),
    JSON.stringify({ _class_name: 'StableDiffusionPipeline', ...extra }),
  );
  return dir;
}

describe('detectFamily', () => {
  it('does not call a model Turbo for trailing spacing alone', () => {
    expect(
      detectFamily(folder('a', { _class_name: 'DDIMScheduler', timestep_spacing: 'trailing' })),
    ).toBe('sd1');
    expect(
      detectFamily(
        folder('b', {
          _class_name: 'EulerAncestralDiscreteScheduler',
          timestep_spacing: 'trailing',
        }),
      ),
    ).toBe('sd-turbo');
    expect(detectFamily(folder('my-sd-turbo', { _class_name: 'EulerDiscreteScheduler' }))).toBe(
      'sd-turbo',
    );
  });

  it('reads v-prediction as SD 2.x and an LCM scheduler as LCM', () => {
    expect(
      detectFamily(folder('c', { _class_name: 'DDIMScheduler', prediction_type: 'v_prediction' })),
    ).toBe('sd2');
    expect(detectFamily(folder('d', { _class_name: 'LCMScheduler' }))).toBe('lcm');
  });
});
