/**
 * Fine-tuning recipes: the optimizer and length settings a model is fine-tuned with unless flags override them. A small
 * BERT wants a far larger learning rate than BERT-base, so the defaults follow the model: a recipe file in its folder,
 * else the paper's recipe for BERT-base-sized models and the small one for smaller models.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readConfig } from '../bert/config';
import { PAPER_RECIPE } from '../paper';
import { projectRelative } from '../paths';

/** The settings a recipe fixes. */
export interface FinetuneRecipe {
  epochs: number;
  batchSize: number;
  /** Peak learning rate of AdamW with linear decay. */
  lr: number;
  /** Share of steps with linear warm-up. */
  warmupRatio: number;
  weightDecay: number;
  /** Tokens per sequence (pairs truncated longest-first). */
  maxLength: number;
}

/** A recipe with its name and where it came from, as `modelRecipe` returns it. */
export interface ResolvedRecipe extends FinetuneRecipe {
  name: string;
  source: string;
}

/** The file in a model folder that names its recipe. */
export const RECIPE_FILE = 'finetune-recipe.json';

/** Models at least this wide get the paper's recipe when their folder names none. */
export const PAPER_RECIPE_MIN_HIDDEN = 768;

/** The named recipes. */
export const RECIPES = {
  /**
   * fisherlab-bert-l4-h128's: lr 1e-3 was the best of {1e-4, 3e-4, 1e-3} on SST-2 (its MODEL.md); the fallback for
   * small BERTs without a recipe file.
   */
  small: { epochs: 3, batchSize: 32, lr: 1e-3, warmupRatio: 0.1, weightDecay: 0.01, maxLength: 128 },
  /** The authors' for BERT-base (paper.ts). */
  paper: PAPER_RECIPE,
} as const satisfies Record<string, FinetuneRecipe>;

export type RecipeName = keyof typeof RECIPES;

const FIELDS = ['epochs', 'batchSize', 'lr', 'warmupRatio', 'weightDecay', 'maxLength'] as const;

/**
 * The recipe in force for a model folder: `choice` (a recipe name or a JSON file) when given, else the folder's
 * finetune-recipe.json, else `paper` for models of BERT-base's width or wider and `small` below it; its max length is
 * capped at the model's max_position_embeddings.
 */
export function modelRecipe(modelDir: string, choice?: string): ResolvedRecipe {
  const config = readConfig(path.join(modelDir, 'config.json'));
  const r = chooseRecipe(modelDir, config.hidden_size, choice);
  if (r.maxLength <= config.max_position_embeddings) return r;
  return {
    ...r,
    maxLength: config.max_position_embeddings,
    source: `${r.source}; max length ${r.maxLength} capped at max_position_embeddings`,
  };
}

/** The recipe named by `choice`, the folder's file or the model's width, uncapped. */
function chooseRecipe(modelDir: string, hidden: number, choice?: string): ResolvedRecipe {
  if (choice !== undefined) {
    if (choice in RECIPES) return { name: choice, ...RECIPES[choice as RecipeName], source: '--recipe' };
    if (!fs.existsSync(choice))
      throw new Error(`--recipe ${choice}: neither a recipe name (${Object.keys(RECIPES).join(', ')}) nor a file`);
    return readRecipeFile(choice, '--recipe');
  }
  const file = path.join(modelDir, RECIPE_FILE);
  if (fs.existsSync(file)) return readRecipeFile(file, projectRelative(file));
  const name: RecipeName = hidden >= PAPER_RECIPE_MIN_HIDDEN ? 'paper' : 'small';
  return {
    name,
    ...RECIPES[name],
    source: `hidden size ${hidden} ${hidden >= PAPER_RECIPE_MIN_HIDDEN ? '≥' : '<'} ${PAPER_RECIPE_MIN_HIDDEN}, no ${RECIPE_FILE} in the folder`,
  };
}

/** A recipe file: `{"recipe": NAME}`, or every field of FinetuneRecipe (with an optional "name"); errors name the file and field. */
export function readRecipeFile(file: string, source: string): ResolvedRecipe {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not a JSON recipe (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error(`${file}: a recipe is a JSON object`);
  if (json.recipe !== undefined) {
    if (typeof json.recipe !== 'string' || !(json.recipe in RECIPES))
      throw new Error(
        `${file}: "recipe" must be one of ${Object.keys(RECIPES).join(', ')} (got ${JSON.stringify(json.recipe)})`,
      );
    return { name: json.recipe, ...RECIPES[json.recipe as RecipeName], source };
  }
  const known = new Set<string>([...FIELDS, 'name', 'description']);
  const unknown = Object.keys(json).filter((k) => !known.has(k));
  if (unknown.length)
    throw new Error(
      `${file}: unknown field(s) ${unknown.join(', ')} (a recipe has ${FIELDS.join(', ')}, and optionally name and description)`,
    );
  const recipe = {} as FinetuneRecipe;
  for (const f of FIELDS) {
    const v = json[f];
    const integer = f === 'epochs' || f === 'batchSize' || f === 'maxLength';
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      v >= 0 &&
      (!integer || (Number.isInteger(v) && v > 0)) &&
      (f !== 'lr' || v > 0) &&
      (f !== 'warmupRatio' || v <= 1);
    if (!ok)
      throw new Error(
        `${file}: field "${f}" is ${JSON.stringify(v ?? null)}; expected ${integer ? 'a positive integer' : f === 'warmupRatio' ? 'a number in [0, 1]' : 'a positive number'}`,
      );
    recipe[f] = v as number;
  }
  return { name: typeof json.name === 'string' ? json.name : path.basename(file, '.json'), ...recipe, source };
}

/** One line naming a recipe, where it came from and its settings. */
export function describeRecipe(r: ResolvedRecipe): string {
  return `recipe ${r.name} (${r.source}): lr ${r.lr}, batch ${r.batchSize}, ${r.epochs} epochs, warm-up ${r.warmupRatio}, weight decay ${r.weightDecay}, max length ${r.maxLength}`;
}

/** The recipe's fields alone, for training settings. */
export function recipeSettings(r: FinetuneRecipe): FinetuneRecipe {
  return Object.fromEntries(FIELDS.map((f) => [f, r[f]])) as unknown as FinetuneRecipe;
}
