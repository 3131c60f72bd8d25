/**
 * Surface descriptors against values worked out by hand and against closed forms; HDF5 surface files read back
 * by h5wasm and by h5py (when .venv-hf has it), and h5py's files in Li et al.'s layout read by us.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { centreLoss, describeSurface } from '../lib/landscape/descriptors';
import { linspace } from '../lib/landscape/surface';
import type { LossSurface } from '../lib/landscape/surface-file';
import { readSurfaceHdf5, writeSurfaceHdf5 } from '../lib/landscape/surface-hdf5';
import { project, surface3dSpec, surfaceQuads } from '../lib/landscape/surface3d';
import { renderVega } from '../lib/notebook/plot';
import { errorOf, rejection } from './helpers';

const VENV_PYTHON = path.join(process.cwd(), '.venv-hf', 'bin', 'python');

/** A surface with loss f(x, y) on the grid. */
function surfaceOf(x: number[], y: number[], f: (x: number, y: number) => number): LossSurface {
  return { x, y, loss: y.flatMap((yy) => x.map((xx) => f(xx, yy))), metadata: {} };
}

describe('loss-surface descriptors', () => {
  it('a hand-worked 3×3 surface: min, centre, basin, radial bins and the plateau', () => {
    // Rows y = -1, 0, 1; columns x = -1, 0, 1.
    const s: LossSurface = { x: [-1, 0, 1], y: [-1, 0, 1], loss: [9, 5, 8, 4, 2, 3.5, 7, 2.5, 6], metadata: {} };
    const d = describeSurface(s, { vocabSize: 1000, basinThreshold: 1.5, radialEdges: [0.5, 1.2] });
    expect(d).to.include({ points: 9, min: 2, max: 9, centre: 2, centreExact: true, basinPoints: 3, plateau: 5.5 });
    expect(d.minAt).to.deep.equal({ x: 0, y: 0 });
    expect(d.basinFraction).to.equal(3 / 9);
    // r = 0: {2}; r = 1: {5, 4, 3.5, 2.5}; r = √2: {9, 8, 7, 6}.
    expect(d.radial).to.deep.equal([
      { rMin: 0, rMax: 0.5, points: 1, mean: 2 },
      { rMin: 0.5, rMax: 1.2, points: 4, mean: 3.75 },
      { rMin: 1.2, rMax: Infinity, points: 4, mean: 7.5 },
    ]);
    // Outer ring: every point but the centre; median of {2.5, 3.5, 4, 5, 6, 7, 8, 9} = (5 + 6) / 2.
    expect(d.uniformLoss).to.be.closeTo(Math.log(1000), 1e-12);
    expect(d.plateauVsUniform).to.be.closeTo(5.5 - Math.log(1000), 1e-12);
  });

  it("the centre of a grid without (0, 0) is bilinear: exact for a bilinear loss, the 2×2 mean on the authors' grid", () => {
    const f = (x: number, y: number) => 3 + 0.5 * x - 2 * y + 0.25 * x * y;
    const s = surfaceOf([-1.5, -0.2, 0.7, 1.5], [-1, -0.4, 0.3], f);
    const c = centreLoss(s);
    expect(c.exact).to.equal(false);
    expect(c.value).to.be.closeTo(f(0, 0), 1e-12);
    const authors = surfaceOf(linspace(-1.5, 1.5, 16), linspace(-1.5, 1.5, 16), (x, y) => x * x + 3 * y * y + 2);
    // The four points at (±0.1, ±0.1) all equal 0.01 + 0.03 + 2.
    expect(describeSurface(authors).centre).to.be.closeTo(2.04, 1e-12);
    expect(errorOf(() => centreLoss(surfaceOf([0.5, 1], [-1, 1], f)))).to.match(
      /x coordinates \(0.5 … 1\) do not surround 0/,
    );
  });

  it('a quadratic bowl: the basin is the disc x² + y² ≤ t, counted on the grid', () => {
    const x = linspace(-1.5, 1.5, 31);
    const s = surfaceOf(x, x, (a, b) => a * a + b * b);
    const d = describeSurface(s, { basinThreshold: 1 });
    const inside = x.flatMap((a) => x.filter((b) => a * a + b * b <= 1)).length;
    expect(d.basinPoints).to.equal(inside);
    expect(d.centre).to.equal(0);
    // The radial means grow with r for a bowl.
    for (let i = 1; i < d.radial.length; i++) expect(d.radial[i].mean).to.be.above(d.radial[i - 1].mean);
  });

  it('a 1-D slice (one row at y = 0) and bad options', () => {
    const s = surfaceOf([-1, 0, 1, 2], [0], (a) => (a - 1) ** 2);
    const d = describeSurface(s);
    expect(d).to.include({ centre: 1, centreExact: true, min: 0, uniformLoss: null, plateauVsUniform: null });
    expect(d.minAt).to.deep.equal({ x: 1, y: 0 });
    expect(errorOf(() => describeSurface(s, { radialEdges: [1, 0.5] }))).to.match(
      /radial edges must be positive and increasing/,
    );
    expect(errorOf(() => describeSurface(s, { basinThreshold: -1 }))).to.match(/basin threshold must be ≥ 0/);
  });
});

describe('HDF5 surface files', function () {
  this.timeout(30_000);
  let tmp = '';
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-h5-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const surface: LossSurface = {
    x: [-1, 0, 1],
    y: [-0.5, 0.5],
    loss: [6.25, 2.5, 5.125, 7, 3, 6],
    metadata: { mask: 'top:50', directions: '/runs/directions.safetensors' },
  };

  it('round-trips through h5wasm in the loss-landscape layout, with metadata', async () => {
    const file = path.join(tmp, 'a', 'surf.h5');
    await writeSurfaceHdf5(file, surface);
    const back = await readSurfaceHdf5(file);
    expect(back).to.deep.equal(surface);
    expect(fs.readdirSync(path.dirname(file))).to.deep.equal(['surf.h5']);
  });

  it("h5py reads our file as Li et al.'s plotting code does, and we read a file h5py writes in their layout", async function () {
    if (!fs.existsSync(VENV_PYTHON) || spawnSync(VENV_PYTHON, ['-c', 'import h5py']).status !== 0) {
      console.warn('    skipped: no .venv-hf with h5py (run scripts/hf-venv.sh)');
      this.skip();
    }
    const ours = path.join(tmp, 'ours.h5');
    await writeSurfaceHdf5(ours, surface);
    const theirs = path.join(tmp, 'theirs.h5');
    const py = spawnSync(
      VENV_PYTHON,
      [
        '-c',
        `
import h5py, json, numpy as np, sys
f = h5py.File(sys.argv[1], 'r')
x = f['xcoordinates'][:]; y = f['ycoordinates'][:]; z = f['train_loss'][:]
print(json.dumps({'keys': sorted(f.keys()), 'x': x.tolist(), 'y': y.tolist(), 'shape': list(z.shape), 'flat': z.ravel().tolist(), 'dtype': str(z.dtype), 'dir_file': f['dir_file'][()].decode()}))
# Li et al.'s net_plotter/plot_2D: losses = -np.ones((len(x), len(y))), filled through losses.ravel()[k].
g = h5py.File(sys.argv[2], 'w')
g['xcoordinates'] = np.linspace(-1, 1, 3); g['ycoordinates'] = np.linspace(0, 1, 2)
losses = -np.ones((3, 2)); losses.ravel()[:] = [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]
g['train_loss'] = losses; g['train_acc'] = losses * 0; g.close()
`,
        ours,
        theirs,
      ],
      { encoding: 'utf8' },
    );
    expect(py.status, py.stderr).to.equal(0);
    const seen = JSON.parse(py.stdout);
    expect(seen).to.deep.equal({
      keys: ['dir_file', 'train_loss', 'xcoordinates', 'ycoordinates'],
      x: surface.x,
      y: surface.y,
      shape: [3, 2],
      flat: surface.loss,
      dtype: 'float64',
      dir_file: '/runs/directions.safetensors',
    });
    const read = await readSurfaceHdf5(theirs);
    expect(read.x).to.deep.equal([-1, 0, 1]);
    expect(read.y).to.deep.equal([0, 1]);
    expect(read.loss).to.deep.equal([1.5, 2.5, 3.5, 4.5, 5.5, 6.5]);
  });

  it('bad files are refused with the file named', async () => {
    const notH5 = path.join(tmp, 'not.h5');
    fs.writeFileSync(notH5, 'hello');
    expect(await rejection(readSurfaceHdf5(notH5))).to.match(/not\.h5: not an HDF5 file/);
    expect(await rejection(readSurfaceHdf5(path.join(tmp, 'missing.h5')))).to.match(/missing\.h5: no such file/);
    const noLoss = path.join(tmp, 'noloss.h5');
    await writeSurfaceHdf5(noLoss, surface);
    expect(await rejection(readSurfaceHdf5(noLoss, 'test_loss'))).to.match(
      /noloss\.h5: no "test_loss" dataset \(has dir_file, train_loss, xcoordinates, ycoordinates\)/,
    );
  });
});

describe('3-D surface view', () => {
  it('projects by the stated rotation: the centre of the base at mid-width, height straight up, far points higher', () => {
    const [u0, v0, d0] = project(0, 0, 0, -50, 30, 200);
    expect(u0).to.be.closeTo(100, 1e-9);
    expect(d0).to.equal(0);
    // Raising z moves only v, by 1.2·cos(elevation)·(size/2)/√2 per unit.
    const [u1, v1] = project(0, 0, 1, -50, 30, 200);
    expect(u1).to.be.closeTo(u0, 1e-9);
    expect(v0 - v1).to.be.closeTo(1.2 * Math.cos(Math.PI / 6) * (100 / Math.SQRT2), 1e-9);
    // With azimuth 0, +y is straight away from the viewer: same u, higher on screen, larger depth.
    const [ua, va, da] = project(0, 1, 0, 0, 30, 200);
    expect(ua).to.be.closeTo(100, 1e-9);
    expect(va).to.be.below(v0);
    expect(da).to.equal(1);
  });

  it('one quadrilateral per cell, drawn farthest first, filled by the mean of its four corners', () => {
    const s = { x: [-1, 0, 1], y: [-1, 0, 1, 2], loss: Array.from({ length: 12 }, (_, k) => k), metadata: {} };
    const quads = surfaceQuads(s, [0, 11], { azimuth: 0 });
    expect(quads).to.have.length(6);
    for (let i = 1; i < quads.length; i++) expect(quads[i].depth).to.be.at.most(quads[i - 1].depth);
    // With azimuth 0 the farthest cells are the last row (y from 1 to 2): corners k = 6, 7, 9, 10 and 7, 8, 10, 11.
    expect(
      quads
        .slice(0, 2)
        .map((q) => q.loss)
        .sort(),
    ).to.deep.equal([8, 9]);
    expect(quads[0].path).to.match(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){3}Z$/);
  });

  it('renders panels on one scale and refuses grids it cannot draw', async () => {
    const s = { x: [-1, 0, 1], y: [-1, 0, 1], loss: [3, 2, 3, 2, 1, 2, 3, 2, 3], metadata: {} };
    const fig = await renderVega(
      surface3dSpec([
        {
          label: 'a',
          panels: [
            { title: 'bowl', surface: s },
            { title: 'bowl again', surface: s },
          ],
        },
      ]),
    );
    expect(fig.svg).to.include('bowl again');
    expect(errorOf(() => surfaceQuads({ x: [0], y: [0, 1], loss: [1, 2] }, [0, 1]))).to.match(/at least 2×2 points/);
  });
});
