/** Fine-tuning recipes: which one a model folder gets, recipe files and their errors; default run folders that cannot collide. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { configToJson } from '../lib/bert/config';
import { defaultRunDir, projectRoot } from '../lib/paths';
import { defaultModelDir, SHIPPED } from '../lib/shipped';
import { describeRecipe, modelRecipe, RECIPE_FILE, RECIPES } from '../lib/glue/recipes';
import { errorOf, tinyConfig } from './helpers';

describe('fine-tuning recipes', () => {
  let dir = '';
  /** A model folder holding only a config.json of the given hidden size. */
  const folder = (name: string, hidden: number, positions = 512): string => {
    const d = path.join(dir, name);
    fs.mkdirSync(d, { recursive: true });
    const config = tinyConfig({
      hidden_size: hidden,
      num_attention_heads: 4,
      intermediate_size: 4 * hidden,
      max_position_embeddings: positions,
    });
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(configToJson(config, 'BertForMaskedLM')));
    return d;
  };
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-recipes-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every shipped model ships the recipe file its sweep ran with', () => {
    const data = path.join(projectRoot(), 'data');
    for (const name of fs.readdirSync(path.join(data, 'models'))) {
      const r = modelRecipe(path.join(data, 'models', name));
      expect(r.source).to.equal(`data/models/${name}/${RECIPE_FILE}`);
      const runs = fs
        .readFileSync(path.join(data, 'results', name, 'results.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).settings);
      expect(runs.length).to.be.above(0);
      for (const s of runs)
        expect([s.lr, s.batchSize, s.epochs, s.warmupRatio, s.weightDecay, s.maxLength], name).to.deep.equal([
          r.lr,
          r.batchSize,
          r.epochs,
          r.warmupRatio,
          r.weightDecay,
          r.maxLength,
        ]);
    }
    expect(modelRecipe(defaultModelDir()).source).to.equal(`${SHIPPED.model}/${RECIPE_FILE}`);
    expect(modelRecipe(path.join(data, 'models', 'fisherlab-bert-l4-h128'))).to.deep.include({
      ...RECIPES.small,
      name: 'small',
    });
  });

  it("without a recipe file: the paper's for BERT-base's width and wider, small below; --recipe overrides", () => {
    const base = modelRecipe(folder('base', 768));
    expect([
      base.name,
      base.lr,
      base.batchSize,
      base.epochs,
      base.warmupRatio,
      base.weightDecay,
      base.maxLength,
    ]).to.deep.equal(['paper', 2e-5, 18, 3, 0, 0, 512]);
    expect(base.source).to.equal('hidden size 768 ≥ 768, no finetune-recipe.json in the folder');
    const small = modelRecipe(folder('small', 256));
    expect([small.name, small.lr]).to.deep.equal(['small', 1e-3]);
    expect(modelRecipe(folder('base', 768), 'small').lr).to.equal(1e-3);
    const short = modelRecipe(folder('short', 768, 128));
    expect([short.maxLength, short.source]).to.deep.equal([
      128,
      'hidden size 768 ≥ 768, no finetune-recipe.json in the folder; max length 512 capped at max_position_embeddings',
    ]);
    expect(describeRecipe(base)).to.equal(
      'recipe paper (hidden size 768 ≥ 768, no finetune-recipe.json in the folder): lr 0.00002, batch 18, 3 epochs, warm-up 0, weight decay 0, max length 512',
    );
  });

  it('reads recipe files by name or by field, and names the file and field that is wrong', () => {
    const d = folder('custom', 128);
    const file = path.join(d, RECIPE_FILE);
    fs.writeFileSync(file, JSON.stringify({ recipe: 'paper' }));
    expect(modelRecipe(d).lr).to.equal(2e-5);
    fs.writeFileSync(
      file,
      JSON.stringify({
        name: 'mine',
        epochs: 2,
        batchSize: 8,
        lr: 5e-4,
        warmupRatio: 0.06,
        weightDecay: 0,
        maxLength: 64,
      }),
    );
    const mine = modelRecipe(d);
    expect([
      mine.name,
      mine.epochs,
      mine.batchSize,
      mine.lr,
      mine.warmupRatio,
      mine.weightDecay,
      mine.maxLength,
    ]).to.deep.equal(['mine', 2, 8, 5e-4, 0.06, 0, 64]);
    fs.writeFileSync(
      file,
      JSON.stringify({ epochs: 2, batchSize: 8.5, lr: 5e-4, warmupRatio: 0.06, weightDecay: 0, maxLength: 64 }),
    );
    expect(errorOf(() => modelRecipe(d))).to.equal(`${file}: field "batchSize" is 8.5; expected a positive integer`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        epochs: 2,
        batchSize: 8,
        lr: 5e-4,
        warmupRatio: 0.06,
        weightDecay: 0,
        maxLength: 64,
        momentum: 0.9,
      }),
    );
    expect(errorOf(() => modelRecipe(d))).to.match(/: unknown field\(s\) momentum/);
    fs.writeFileSync(file, JSON.stringify({ recipe: 'huge' }));
    expect(errorOf(() => modelRecipe(d))).to.equal(`${file}: "recipe" must be one of small, paper (got "huge")`);
    fs.writeFileSync(file, '{ "lr": ');
    expect(errorOf(() => modelRecipe(d))).to.match(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a JSON recipe`),
    );
    expect(errorOf(() => modelRecipe(d, 'nonsense'))).to.equal(
      '--recipe nonsense: neither a recipe name (small, paper) nor a file',
    );
  });

  it('default run folders differ for outputs of the same name in different folders, and repeat for the same path', () => {
    const a = defaultRunDir('fisher', path.join(dir, 'a', 'F.safetensors'));
    const b = defaultRunDir('fisher', path.join(dir, 'b', 'F.safetensors'));
    expect(a).to.not.equal(b);
    expect(path.basename(a)).to.match(/^F-[0-9a-f]{8}$/);
    expect(defaultRunDir('fisher', path.join(dir, 'a', '..', 'a', 'F.safetensors'))).to.equal(a);
  });
});
