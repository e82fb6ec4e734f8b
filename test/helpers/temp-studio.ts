import { afterAll, beforeAll } from 'vitest';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { tempHome } from './temp-home';

/**
 * A studio over a throwaway home for one test file: created before the tests, closed and deleted
 * after. Read `.studio` / `.home` inside tests (they exist once beforeAll has run).
 */
export function useTempStudio(): { readonly studio: Studio; readonly home: string } {
  let home: ReturnType<typeof tempHome> | undefined;
  let studio: Studio | undefined;
  beforeAll(() => {
    home = tempHome();
    studio = createStudio({ home: home.dir });
  });
  afterAll(async () => {
    await studio?.close();
    home?.cleanup();
  });
  return {
    get studio() {
      if (!studio) throw new Error('useTempStudio: the studio exists only inside tests');
      return studio;
    },
    get home() {
      if (!home) throw new Error('useTempStudio: the home exists only inside tests');
      return home.dir;
    },
  };
}
