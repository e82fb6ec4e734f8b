import { StudioError } from '../../shared/errors';
import { findRecipe, type Recipe } from '../bench/recipes';
import { composeRecipes } from '../bench/tiers';

/**
 * A recipe named on the command line (`generate --recipe`): one from the catalogue, or several
 * joined by `+`, composed exactly as the wizard composes a stack (one trajectory change, at most
 * one feature-cache interval, the variants combined into one). A combination that cannot be one
 * recipe is refused with the reason.
 */
export function catalogueRecipe(name: string): Recipe {
  const parts = [...new Set(name.split('+'))];
  if (parts.length === 1) return findRecipe(parts[0]);
  const recipes = parts.map((p) => findRecipe(p));
  for (const r of recipes)
    if (r.name === 'baseline' || r.stack)
      throw new StudioError(
        `recipe: ${r.name} cannot be part of a stack; name single recipes`,
        'bad-input',
      );
  try {
    return composeRecipes('advanced', recipes, parts.join('+'));
  } catch (e) {
    throw new StudioError(`recipe ${name}: ${(e as Error).message}`, 'bad-input');
  }
}
